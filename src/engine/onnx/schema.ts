/**
 * The subset of the ONNX protobuf schema (onnx.proto, IR version 10) that adapterkit writes.
 * Field numbers follow the ONNX specification; only the messages and fields used are declared.
 * Parsed once by protobufjs at load time.
 */
export const ONNX_SCHEMA = `
syntax = "proto3";
package onnx;

message StringStringEntryProto { string key = 1; string value = 2; }
message OperatorSetIdProto { string domain = 1; int64 version = 2; }

message TensorProto {
  repeated int64 dims = 1;
  int32 data_type = 2;
  repeated float float_data = 4;
  repeated int32 int32_data = 5;
  repeated int64 int64_data = 7;
  string name = 8;
  bytes raw_data = 9;
  string doc_string = 12;
  repeated StringStringEntryProto external_data = 13;
  int32 data_location = 14;
}

message TensorShapeProto {
  message Dimension { int64 dim_value = 1; string dim_param = 2; }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
  Tensor tensor_type = 1;
}

message ValueInfoProto { string name = 1; TypeProto type = 2; string doc_string = 3; }

message AttributeProto {
  string name = 1;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  int32 type = 20;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  repeated AttributeProto attribute = 5;
  string domain = 7;
}

message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}

message ModelProto {
  int64 ir_version = 1;
  string producer_name = 2;
  string producer_version = 3;
  GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
  repeated StringStringEntryProto metadata_props = 14;
}
`;

/** AttributeProto.AttributeType codes. */
export const ATTR_TYPE = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

/** The opset adapterkit emits (ai.onnx). Gelu needs 20. */
export const OPSET = 21;
/** The version of ONNX Runtime's `com.microsoft` contrib domain (int8 kernels: DynamicQuantizeMatMul, MatMulNBits). */
export const CONTRIB_OPSET = 1;
/** IR version matching {@link OPSET}. */
export const IR_VERSION = 10;
