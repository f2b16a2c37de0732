/**
 * What a PyTorch state-dict pickle may reference, and what each allowed name becomes. This is the
 * whole allow-list: any other global is refused before anything is built.
 */
import { fail } from '../../errors.js';
import { describeValue, truncateText } from '../../util/describe.js';
import type { PickleCallable, PickleHooks } from './pickle.js';
import type { SourceDtype } from './types.js';

/** A `torch.<Type>Storage` class named in the pickle. */
export interface TorchStorageType {
  readonly torchStorage: string;
  readonly dtype: SourceDtype;
}

/** A storage a tensor points into; `key` names its data (zip entry `data/<key>` or legacy key). */
export interface TorchStorageRef {
  readonly key: string;
  readonly dtype: SourceDtype;
  /** Elements of the whole storage (the root storage for legacy views). */
  readonly numel: number;
  /** Element offset of a legacy storage view into its root storage (0 otherwise). */
  readonly elementOffset: number;
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. */
export interface TorchTensorRef {
  readonly torchTensor: true;
  readonly storage: TorchStorageRef;
  readonly offset: number;
  readonly shape: readonly unknown[];
  readonly stride: readonly unknown[];
}

/** Storage classes and the element type each holds (a Map: names from the file never reach a prototype). */
const STORAGE_TYPES: ReadonlyMap<string, SourceDtype> = new Map([
  ['FloatStorage', 'F32'],
  ['HalfStorage', 'F16'],
  ['BFloat16Storage', 'BF16'],
  ['DoubleStorage', 'F64'],
  ['LongStorage', 'I64'],
  ['IntStorage', 'I32'],
  ['ShortStorage', 'I16'],
  ['CharStorage', 'I8'],
  ['ByteStorage', 'U8'],
  ['BoolStorage', 'BOOL'],
]);

/** True when `v` is a tensor built from the pickle. */
export function isTorchTensorRef(v: unknown): v is TorchTensorRef {
  return typeof v === 'object' && v !== null && (v as TorchTensorRef).torchTensor === true;
}

/** The hooks for one file, plus every storage its persistent ids named (root key -> ref). */
export function torchPickleHooks(path: string): PickleHooks & { storages: Map<string, TorchStorageRef> } {
  const storages = new Map<string, TorchStorageRef>();
  const callables = allowedCallables(path);
  return {
    storages,
    findGlobal(module, name) {
      const qualified = `${module}.${name}`;
      const callable = callables.get(qualified);
      if (callable) return callable;
      const dtype = module === 'torch' ? STORAGE_TYPES.get(name) : undefined;
      if (dtype) return { torchStorage: name, dtype } satisfies TorchStorageType;
      return fail('BAD_FILE', `${path}: refusing to load: the pickle references ${truncateText(qualified)}, which a weights file should not contain`);
    },
    persistentLoad(pid) {
      const ref = storageRef(pid, path);
      const known = storages.get(ref.key);
      if (!known || known.numel < ref.numel) storages.set(ref.key, { ...ref, elementOffset: 0 });
      return ref;
    },
  };
}

function isStorageType(v: unknown): v is TorchStorageType {
  return typeof v === 'object' && v !== null && typeof (v as TorchStorageType).torchStorage === 'string' && STORAGE_TYPES.get((v as TorchStorageType).torchStorage) === (v as TorchStorageType).dtype;
}

function callable(pickleName: string, call: (args: readonly unknown[]) => unknown): PickleCallable {
  return { pickleName, call };
}

function allowedCallables(path: string): Map<string, PickleCallable> {
  const rebuildTensor = (name: string) => callable(name, (args) => tensorRef(args, name, path));
  const rebuildParameter = (name: string) => callable(name, (args) => {
    if (!isTorchTensorRef(args[0])) fail('BAD_FILE', `${path}: ${name} got something that is not a tensor`);
    return args[0];
  });
  return new Map<string, PickleCallable>([
    ['collections.OrderedDict', callable('collections.OrderedDict', () => new Map())],
    ['torch._utils._rebuild_tensor_v2', rebuildTensor('torch._utils._rebuild_tensor_v2')],
    ['torch._utils._rebuild_tensor', rebuildTensor('torch._utils._rebuild_tensor')],
    ['torch._utils._rebuild_parameter', rebuildParameter('torch._utils._rebuild_parameter')],
    ['torch._utils._rebuild_parameter_with_state', rebuildParameter('torch._utils._rebuild_parameter_with_state')],
  ]);
}

function tensorRef(args: readonly unknown[], name: string, path: string): TorchTensorRef {
  const [storage, offset, shape, stride] = args;
  if (!isStorageRef(storage) || typeof offset !== 'number' || !Array.isArray(shape) || !Array.isArray(stride)) {
    fail('BAD_FILE', `${path}: ${name} got arguments that do not describe a tensor`);
  }
  return { torchTensor: true, storage, offset, shape, stride };
}

function isStorageRef(v: unknown): v is TorchStorageRef {
  return typeof v === 'object' && v !== null && typeof (v as TorchStorageRef).key === 'string' && typeof (v as TorchStorageRef).numel === 'number';
}

/** `('storage', StorageType, key, location, numel[, (view_key, offset, view_numel)])` -> ref. */
function storageRef(pid: unknown, path: string): TorchStorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage') fail('BAD_FILE', `${path}: unsupported persistent id ${describe(pid)}`);
  const [, type, key, , numel, view] = pid as unknown[];
  const dtype = isStorageType(type) ? type.dtype : undefined;
  if (!dtype || (typeof key !== 'string' && typeof key !== 'number') || !isCount(numel) || String(key).length > MAX_KEY_LENGTH) {
    fail('BAD_FILE', `${path}: malformed storage persistent id ${describe(pid)}`);
  }
  const base = { key: String(key), dtype, numel, elementOffset: 0 };
  if (view === undefined || view === null) return base;
  if (!Array.isArray(view) || !isCount(view[1]) || !isCount(view[2])) fail('BAD_FILE', `${path}: malformed storage view ${describe(view)}`);
  return { ...base, elementOffset: view[1], numel: Math.max(numel, view[1] + view[2]) };
}

/** Longest storage key accepted (torch writes small decimal numbers). */
const MAX_KEY_LENGTH = 256;

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function describe(v: unknown): string {
  return describeValue(v, 120);
}
