// Compiles a TypeScript snippet with TypeScript itself, under standard decorators or under
// `experimentalDecorators`, and evaluates it against the core sources. Vitest's own transform does
// not lower standard decorators, and tests must see exactly what each compiler mode emits.

import ts from 'typescript';
import * as decorators from '../../src/decorators.js';

export type DecoratorMode = 'standard' | 'legacy';
export const MODES: readonly DecoratorMode[] = ['standard', 'legacy'];

export interface Compiled {
  readonly exports: Record<string, any>;
  /** The emitted JavaScript, to check which decorator helpers the mode used. */
  readonly js: string;
}

/**
 * `source` may import the decorators from '@switchyard/core' and anything else from 'fixture' (the
 * `fixture` object). Errors thrown while the module body runs (decorators run at class definition)
 * propagate.
 */
export function compile(mode: DecoratorMode, source: string, fixture: Record<string, unknown> = {}): Compiled {
  const { outputText, diagnostics } = ts.transpileModule(source, {
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      experimentalDecorators: mode === 'legacy',
      // NestJS compiles with both flags; without reflect-metadata the emitted calls are no-ops.
      emitDecoratorMetadata: mode === 'legacy',
    },
  });
  if (diagnostics && diagnostics.length > 0)
    throw new Error(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n'));
  const modules: Record<string, unknown> = { '@switchyard/core': decorators, fixture };
  const module = { exports: {} as Record<string, any> };
  const require = (id: string) => {
    if (!(id in modules)) throw new Error(`compiled snippet imports unknown module '${id}'`);
    return modules[id];
  };
  new Function('require', 'module', 'exports', outputText)(require, module, module.exports);
  return { exports: module.exports, js: outputText };
}
