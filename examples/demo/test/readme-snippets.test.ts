// Every ```ts / ```typescript block in the repository's READMEs (README.md, packages/*/README.md,
// examples/*/README.md, bench/README.md) is type-checked against the built packages, one test per block.
// Blocks are compiled as if they were files of this package (examples/demo): same compiler options
// (tsconfig.json, i.e. the strict tsconfig.base.json), and imports resolve through node_modules to
// what a user installs: the `dist` type declarations of @switchyard/*, zod, kafkajs, @aws-sdk/*.
//
// A block that uses names it does not declare says what they are in HTML comments right before it
// (GitHub does not show them; blank lines may separate them from the block):
//   <!-- snippet-context: declare const app: App; -->   code put before the block (imports allowed;
//                                                        may span lines)
//   <!-- snippet-module ./contracts: export const … -->  a module the block imports but does not show
//                                                        (the specifier exactly as the block writes it)
//   <!-- snippet: skip — reason -->                      not checked; the test is reported as skipped
//                                                        with the reason in its name. Prefer a context.
// Errors are reported at README lines (in the block or in its comments). Needs the packages built
// (`node scripts/bootstrap.mjs` does it), as the type declarations come from their `dist`.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const packageDir = join(import.meta.dirname, '..');
const root = join(packageDir, '..', '..');

interface Piece {
  /** Code as compiled. */
  code: string;
  /** README line (1-based) of the code's first line, and the column (0-based) it starts at there. */
  line: number;
  column: number;
}

interface Snippet {
  readme: string;
  index: number;
  line: number;
  title: string;
  code: Piece;
  context: Piece[];
  modules: Map<string, Piece>;
  skip?: string;
  /** The block's virtual file, and one per stub module by specifier (never written to disk). */
  file: string;
  moduleFiles: Map<string, string>;
}

interface Problem {
  readme: string;
  line: number;
  message: string;
}

function readmes(): string[] {
  const found = ['README.md', join('bench', 'README.md')];
  for (const group of ['packages', 'examples']) {
    for (const dir of readdirSync(join(root, group), { withFileTypes: true })) {
      if (dir.isDirectory()) found.push(join(group, dir.name, 'README.md'));
    }
  }
  return found.filter((file) => existsSync(join(root, file)));
}

const DIRECTIVE = /^\s*<!--\s*snippet(?:-[a-z]+)?[\s:]/;

function extract(readme: string, problems: Problem[]): Snippet[] {
  const lines = readFileSync(join(root, readme), 'utf8').split('\n');
  const snippets: Snippet[] = [];
  let pending: { context: Piece[]; modules: Map<string, Piece>; skip?: string; line: number } | undefined;
  const problem = (line: number, message: string) => problems.push({ readme, line, message });
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] ?? '';
    if (DIRECTIVE.test(text)) {
      const start = i;
      while (i < lines.length && !(lines[i] ?? '').includes('-->')) i++;
      const comment = lines.slice(start, i + 1).join('\n');
      const open = comment.indexOf('<!--') + 4;
      const body = comment.slice(open, comment.lastIndexOf('-->'));
      pending ??= { context: [], modules: new Map(), line: start + 1 };
      const piece = (prefix: RegExp): Piece => {
        const head = prefix.exec(body)?.[0] ?? '';
        const before = comment.slice(0, open + head.length);
        const lineOffset = before.split('\n').length - 1;
        return {
          code: body.slice(head.length).trimEnd(),
          line: start + 1 + lineOffset,
          column: before.length - (before.lastIndexOf('\n') + 1),
        };
      };
      const stub = /^\s*snippet-module\s+(\S+?):(?=\s)/.exec(body);
      const skip = /^\s*snippet:\s*skip\b\s*(?:[—–:-]\s*)?([\s\S]*)$/.exec(body);
      if (/^\s*snippet-context:/.test(body)) pending.context.push(piece(/^\s*snippet-context:\s*/));
      else if (stub) pending.modules.set(stub[1] ?? '', piece(/^\s*snippet-module\s+\S+?:\s*/));
      else if (skip) {
        const reason = (skip[1] ?? '').replace(/\s+/g, ' ').trim();
        if (!reason) problem(start + 1, 'a `<!-- snippet: skip — reason -->` needs a reason');
        pending.skip = reason || 'no reason given';
      } else problem(start + 1, `unknown snippet directive: ${comment.split('\n')[0]}`);
      continue;
    }
    const fence = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(text);
    if (fence) {
      const marker = fence[2] ?? '```';
      const lang = (fence[3] ?? '').toLowerCase();
      const first = i + 1;
      i++;
      while (i < lines.length && !(lines[i] ?? '').trim().startsWith(marker)) i++;
      if (lang === 'ts' || lang === 'typescript') {
        const code = lines.slice(first, i).join('\n');
        const titleLine = code.split('\n').find((l) => l.trim() !== '') ?? '';
        const title = titleLine.trim().length > 70 ? `${titleLine.trim().slice(0, 69)}…` : titleLine.trim();
        snippets.push({
          readme,
          index: snippets.length + 1,
          line: first,
          title,
          code: { code, line: first + 1, column: 0 },
          context: pending?.context ?? [],
          modules: pending?.modules ?? new Map(),
          ...(pending?.skip !== undefined ? { skip: pending.skip } : {}),
          file: '',
          moduleFiles: new Map(),
        });
      } else if (pending) {
        problem(pending.line, `snippet directives before a \`\`\`${lang} block, not a ts block`);
      }
      pending = undefined;
      continue;
    }
    if (pending && text.trim() !== '') {
      problem(pending.line, 'snippet directives must come right before a ```ts block (only blank lines between)');
      pending = undefined;
    }
  }
  if (pending) problem(pending.line, 'snippet directives at the end of the file, before no block');
  return snippets;
}

const directiveProblems: Problem[] = [];
const byReadme = readmes().map((readme) => ({ readme, snippets: extract(readme, directiveProblems) }));
const snippets = byReadme.flatMap((r) => r.snippets);

/** Where a line of a virtual file came from. */
interface Origin {
  readme: string;
  pieces: { from: number; piece: Piece }[];
}

const origins = new Map<string, Origin>();
const files = new Map<string, string>();

function addFile(file: string, readme: string, pieces: Piece[]): void {
  const parts: { from: number; piece: Piece }[] = [];
  let from = 0;
  for (const piece of pieces) {
    parts.push({ from, piece });
    from += piece.code.split('\n').length;
  }
  files.set(file, pieces.map((p) => p.code).join('\n'));
  origins.set(file, { readme, pieces: parts });
}

// One directory per block, inside this package so that module resolution and the package's
// `"type": "module"` apply as they would to a user's file here. Nothing is written to disk.
for (const s of snippets) {
  const dir = join(packageDir, 'readme-snippets', s.readme.replace(/[^A-Za-z0-9]+/g, '-'), String(s.index));
  s.file = join(dir, 'snippet.ts');
  addFile(s.file, s.readme, [...s.context, s.code]);
  let n = 0;
  for (const [specifier, piece] of s.modules) {
    const file = join(dir, `module-${++n}.ts`);
    s.moduleFiles.set(specifier, file);
    addFile(file, s.readme, [piece]);
  }
}

// A block with one wrong use of each library per line: proves that the types really loaded (a
// declaration that failed to resolve inside a package's `dist` would turn into `any`, silently, under
// skipLibCheck) and that the options are strict enough to catch the mistakes READMEs drift into.
const canaryFile = join(packageDir, 'readme-snippets', 'canary.ts');
const canary = [
  "import { SNSClient } from '@aws-sdk/client-sns';",
  "import { SQSClient } from '@aws-sdk/client-sqs';",
  "import { createApp, defineEvent, defineTopic, MemoryLogTransport } from '@switchyard/core';",
  "import { KafkaTransport } from '@switchyard/kafka';",
  "import { SnsTransport } from '@switchyard/sns';",
  "import { SqsTransport } from '@switchyard/sqs';",
  "import { uniqueName } from '@switchyard/testing';",
  "import { Kafka } from 'kafkajs';",
  "import { z } from 'zod';",
  "const OrderPlaced = defineEvent({ name: 'OrderPlaced', schema: z.object({ id: z.string() }), key: (o) => o.id });",
  "const orders = defineTopic({ name: 'orders', events: [OrderPlaced] });",
  'await createApp({ transport: new MemoryLogTransport() }).publish(orders, OrderPlaced, { id: 1 });',
  "new KafkaTransport({ brokers: ['127.0.0.1:9092'], retry: { mode: 'retry-topic' } });",
  'new SqsTransport({ client: new SQSClient({}), visibilityTimeoutSeconds: 30 });',
  'new SnsTransport({ client: new SNSClient({}), topicPrefix: "arn:" });',
  'uniqueName(42);',
  "new Kafka({ brokers: '127.0.0.1:9092' });",
  'new SQSClient({}).sendd();',
  'new SNSClient({}).sendd();',
].join('\n');
const canaryErrorLines = [12, 13, 14, 15, 16, 17, 18, 19];
files.set(canaryFile, canary);

function compilerOptions(): ts.CompilerOptions {
  const configFile = join(packageDir, 'tsconfig.json');
  const read = ts.readConfigFile(configFile, ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, packageDir, undefined, configFile);
  const errors = parsed.errors.filter((d) => d.code !== 18003); // 18003: no inputs (we give our own)
  if (errors.length > 0)
    throw new Error(errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n'));
  return { ...parsed.options, noEmit: true };
}

function createProgram(): ts.Program {
  const options = compilerOptions();
  const host = ts.createCompilerHost(options, true);
  const real = { ...host };
  const dirs = new Set<string>();
  for (const file of files.keys()) {
    for (let d = dirname(file); d !== packageDir && !dirs.has(d); d = dirname(d)) dirs.add(d);
  }
  host.getCurrentDirectory = () => packageDir;
  host.fileExists = (file) => files.has(file) || real.fileExists(file);
  host.readFile = (file) => files.get(file) ?? real.readFile(file);
  host.directoryExists = (dir) => dirs.has(dir) || (real.directoryExists?.(dir) ?? ts.sys.directoryExists(dir));
  host.getSourceFile = (file, language, onError, create) => {
    const text = files.get(file);
    return text === undefined
      ? real.getSourceFile(file, language, onError, create)
      : ts.createSourceFile(file, text, language, true);
  };
  const stubs = new Map(snippets.map((s) => [s.file, s.moduleFiles]));
  const cache = ts.createModuleResolutionCache(packageDir, (f) => f, options);
  host.resolveModuleNameLiterals = (literals, containingFile, redirected, opts, containingSourceFile) =>
    literals.map((literal) => {
      const stub = (stubs.get(containingFile) ?? stubs.get(siblingSnippet(containingFile)))?.get(literal.text);
      if (stub) return { resolvedModule: { resolvedFileName: stub, extension: ts.Extension.Ts } };
      const mode = ts.getModeForUsageLocation(containingSourceFile, literal, opts);
      return ts.resolveModuleName(literal.text, containingFile, opts, host, cache, redirected, mode);
    });
  return ts.createProgram({ rootNames: [...files.keys()], options, host });
}

/** A stub module may import another stub of the same block. */
function siblingSnippet(file: string): string {
  return join(dirname(file), 'snippet.ts');
}

function readmeLocation(
  file: string,
  position: number,
  sourceFile: ts.SourceFile,
): { readme: string; line: number; column: number } {
  const origin = origins.get(file);
  const { line, character } = sourceFile.getLineAndCharacterOfPosition(position);
  if (!origin) return { readme: relative(root, file), line: line + 1, column: character + 1 };
  const part = origin.pieces.findLast((p) => p.from <= line) ?? origin.pieces[0]!;
  const offset = line - part.from;
  return {
    readme: origin.readme,
    line: part.piece.line + offset,
    column: character + 1 + (offset === 0 ? part.piece.column : 0),
  };
}

function format(diagnostic: ts.Diagnostic): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n    ');
  const { file, start } = diagnostic;
  if (!file || start === undefined) return `TS${diagnostic.code}: ${message}`;
  const at = readmeLocation(file.fileName, start, file);
  const source = files.get(file.fileName)?.split('\n')[file.getLineAndCharacterOfPosition(start).line] ?? '';
  return `${at.readme}:${at.line}:${at.column} - TS${diagnostic.code}: ${message}\n    | ${source.trim()}`;
}

let program: ts.Program;
beforeAll(() => {
  program = createProgram();
});

describe('README code blocks', () => {
  it('snippet directives are well-formed and each stands right before a ```ts block', () => {
    expect(directiveProblems.map((p) => `${p.readme}:${p.line}: ${p.message}`)).toEqual([]);
  });

  it('there are blocks to check', () => {
    expect(snippets.length).toBeGreaterThan(0);
  });

  it('the compiler options and type libraries load without errors', () => {
    expect([...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map(format)).toEqual([]);
  });

  it('a wrong use of any package fails to compile (the check is not vacuous)', () => {
    const sourceFile = program.getSourceFile(canaryFile)!;
    const errors = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)];
    const lines = errors.map((d) => sourceFile.getLineAndCharacterOfPosition(d.start ?? 0).line + 1);
    expect(
      [...new Set(lines)].sort((a, b) => a - b),
      errors.map(format).join('\n'),
    ).toEqual(canaryErrorLines);
  });
});

for (const { readme, snippets: blocks } of byReadme) {
  if (blocks.length === 0) continue;
  describe(readme, () => {
    for (const s of blocks) {
      const name = `block ${s.index} (line ${s.line}): ${s.title}`;
      if (s.skip !== undefined) {
        // In the name for reporters that list skipped tests, and printed for the default one, which does not.
        console.warn(`[readme-snippets] skipped ${readme} block ${s.index} (line ${s.line}): ${s.skip}`);
        it.skip(`${name} [skipped: ${s.skip}]`, () => {});
        continue;
      }
      it(name, () => {
        const sources = [s.file, ...s.moduleFiles.values()].map((f) => program.getSourceFile(f)!);
        const diagnostics = sources.flatMap((sf) => [
          ...program.getSyntacticDiagnostics(sf),
          ...program.getSemanticDiagnostics(sf),
          ...program.getDeclarationDiagnostics(sf),
        ]);
        if (diagnostics.length > 0) {
          throw new Error(
            `${diagnostics.length} compile error(s) in ${readme} block ${s.index} (line ${s.line}):\n` +
              diagnostics.map(format).join('\n'),
          );
        }
      });
    }
  });
}
