/** Every CLI sub-command, in the order `--help` lists them. */
import type { Command } from 'commander';
import { registerAblate } from './ablate.js';
import { registerDatasets } from './datasets.js';
import { registerDemo } from './demo.js';
import { registerEval } from './eval.js';
import { registerExport } from './export.js';
import { registerInfo } from './info.js';
import { registerMerge } from './merge.js';
import { registerPredict } from './predict.js';
import { registerReport } from './report.js';
import { registerServe } from './serve.js';
import { registerSweep } from './sweep.js';
import { registerTrain } from './train.js';
import { registerUi } from './ui.js';
import { registerWorker } from './worker.js';

/** A function that adds one sub-command to the program. */
export type RegisterCommand = (program: Command) => void;

/** The sub-commands, in help order. */
export const COMMANDS: RegisterCommand[] = [registerDemo, registerTrain, registerEval, registerPredict, registerExport, registerMerge, registerSweep, registerWorker, registerAblate, registerReport, registerServe, registerUi, registerDatasets, registerInfo];
