#!/usr/bin/env node
// Validates KQL queries offline with Microsoft's Kusto language service
// (@kusto/language-service-next), against the Log Analytics tables in schema.json.
//
// Usage: node validate.js [--schema FILE] FILE...
//
// A FILE ending in .yaml or .yml is read as a Sentinel query definition, and its top-level
// `query` string is validated. Any other FILE is one KQL query.
//
// Exit status: 0 when no file has an error diagnostic, 1 when at least one has, and 2 when a
// file cannot be read, a YAML file has no `query` string, or the schema is missing or invalid.
// Warnings and suggestions are printed but do not change the exit status.
'use strict';

const fs = require('fs');
const path = require('path');

const EXIT_OK = 0;
const EXIT_ERRORS = 1;
const EXIT_UNUSABLE_INPUT = 2;

const DEFAULT_SCHEMA_PATH = path.join(__dirname, 'schema.json');
const USAGE = 'Usage: node validate.js [--schema FILE] FILE...';

// A file or schema that cannot be used; main() reports it and exits with status 2.
class InputError extends Error {}

function parseArguments(argv) {
  const options = { schemaPath: DEFAULT_SCHEMA_PATH, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if (argument === '--help' || argument === '-h') {
      console.log(USAGE);
      process.exit(EXIT_OK);
    } else if (argument === '--schema') {
      if (i + 1 >= argv.length) throw new InputError(`--schema needs a file path. ${USAGE}`);
      options.schemaPath = argv[++i];
    } else if (argument.startsWith('-') && argument !== '-') {
      throw new InputError(`unknown option "${argument}". ${USAGE}`);
    } else {
      options.files.push(argument);
    }
  }
  if (options.files.length === 0) throw new InputError(`missing query file. ${USAGE}`);
  return options;
}

// The package is a Bridge.NET translation of the C# Kusto.Language library. Its runtime
// (bridge.js) must load first, and both files define globals (Bridge, System, Kusto) instead
// of exporting the API, so the API is read from global.Kusto.
function loadLanguageService() {
  require('@kusto/language-service-next/bridge.js');
  require('@kusto/language-service-next');
  if (!global.Kusto || !global.Kusto.Language || !global.Kusto.Language.KustoCode) {
    throw new Error('@kusto/language-service-next did not define Kusto.Language. Run npm ci in tests/kql.');
  }
  return global.Kusto.Language;
}

function readSchema(schemaPath) {
  let text;
  try {
    text = fs.readFileSync(schemaPath, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read the schema ${schemaPath}: ${error.message}. Run node make-schema.js in tests/kql to build it.`);
  }
  let schema;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    throw new InputError(`the schema ${schemaPath} is not valid JSON: ${error.message}`);
  }
  if (!schema || typeof schema.database !== 'string' || !schema.tables || typeof schema.tables !== 'object') {
    throw new InputError(`the schema ${schemaPath} needs a "database" name and a "tables" object`);
  }
  return schema;
}

// Builds the global state: the default functions and operators plus one database that contains
// the schema's tables. The database is closed, so an unknown table name is an error.
function buildGlobals(language, schema, schemaPath) {
  const symbols = language.Symbols;
  const tables = [];
  for (const [tableName, columns] of Object.entries(schema.tables)) {
    if (!Array.isArray(columns) || columns.length === 0) {
      throw new InputError(`table ${tableName} in the schema ${schemaPath} has no columns`);
    }
    const columnSymbols = columns.map((column) => {
      // GetSymbol matches lower-case KQL type names and returns null for any other name.
      const type = typeof column.type === 'string' ? symbols.ScalarTypes.GetSymbol(column.type) : null;
      if (typeof column.name !== 'string' || type === null) {
        throw new InputError(`the schema ${schemaPath} has an invalid column in table ${tableName}: ${JSON.stringify(column)}`);
      }
      return new symbols.ColumnSymbol(column.name, type, null, null, null, null);
    });
    tables.push(new symbols.TableSymbol.$ctor4(tableName, columnSymbols));
  }
  const database = new symbols.DatabaseSymbol.$ctor1(schema.database, tables, false);
  return language.GlobalState.Default.WithDatabase(database);
}

function splitLines(text) {
  return text.split(/\r\n|\r|\n/);
}

// Finds where a YAML literal block `query: |` starts in the file, so that diagnostics can point
// at file lines. Returns null when the block is folded (`>`) or quoted, or when its lines do
// not match the parsed query one to one. Positions then count from the start of the query.
function locateQueryBlock(fileText, query) {
  const fileLines = splitLines(fileText);
  const header = fileLines.findIndex((line) => /^query:\s*\|[-+]?\s*(#.*)?$/.test(line));
  if (header < 0) return null;

  const firstContent = fileLines.slice(header + 1).find((line) => line.trim() !== '');
  if (firstContent === undefined) return null;
  const indent = firstContent.length - firstContent.trimStart().length;

  // The newline that ends the block is not a line of its own in the file.
  const queryLines = splitLines(query);
  if (queryLines.length > 1 && queryLines[queryLines.length - 1] === '') queryLines.pop();
  for (let i = 0; i < queryLines.length; i++) {
    const fileLine = fileLines[header + 1 + i];
    const matches = fileLine === undefined
      ? queryLines[i] === ''
      : fileLine.slice(indent) === queryLines[i] || (queryLines[i] === '' && fileLine.trim() === '');
    if (!matches) return null;
  }
  return { lineOffset: header + 1, columnOffset: indent };
}

function readYamlQuery(file, fileText) {
  const yaml = require('js-yaml');
  let document;
  try {
    document = yaml.load(fileText);
  } catch (error) {
    throw new InputError(`${file} is not valid YAML: ${error.message}`);
  }
  if (!document || typeof document !== 'object' || typeof document.query !== 'string') {
    throw new InputError(`${file} has no top-level "query" string to validate`);
  }
  const block = locateQueryBlock(fileText, document.query);
  return {
    text: document.query,
    lineOffset: block ? block.lineOffset : 0,
    columnOffset: block ? block.columnOffset : 0,
    positionNote: block ? null : 'line and column count from the start of the query string, not the file',
  };
}

// Reads one input file and returns the query text with the offsets that map its positions
// back to file lines and columns.
function readQuery(file) {
  let fileText;
  try {
    fileText = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${file}: ${error.message}`);
  }
  if (fileText.startsWith('\uFEFF')) fileText = fileText.slice(1);

  if (/\.ya?ml$/i.test(file)) return readYamlQuery(file, fileText);
  return { text: fileText, lineOffset: 0, columnOffset: 0, positionNote: null };
}

function toArray(list) {
  const items = [];
  for (let i = 0; i < list.Count; i++) items.push(list.getItem(i));
  return items;
}

// Runs the parser, the semantic analysis and the library's analyzers (the KS5xx rules, such
// as a join without kind or a deprecated function). Each diagnostic has 0-based Start and
// Length in UTF-16 code units of the query text.
function analyse(language, globals, text) {
  const code = language.KustoCode.ParseAndAnalyze(text, globals);
  const service = new language.Editor.KustoCodeService.ctor(code);
  const diagnostics = toArray(code.GetDiagnostics()).concat(toArray(service.GetAnalyzerDiagnostics(true)));
  diagnostics.sort((a, b) => a.Start - b.Start);
  return { code, diagnostics };
}

// Returns the diagnostic's 1-based line and column in the file, or null when it has no location.
function locate(code, query, diagnostic) {
  if (!diagnostic.HasLocation) return null;
  const line = { v: 0 };
  const column = { v: 0 };
  if (!code.TryGetLineAndOffset(diagnostic.Start, line, column)) return null;
  return {
    queryLine: line.v,
    line: line.v + query.lineOffset,
    column: column.v + query.columnOffset,
    queryColumn: column.v,
  };
}

// Prints the query line under the diagnostic with a marker under the text it covers.
function printSourceExcerpt(query, position, diagnostic) {
  const sourceLine = splitLines(query.text)[position.queryLine - 1];
  if (sourceLine === undefined) return;
  const available = Math.max(sourceLine.length - (position.queryColumn - 1), 1);
  const width = Math.min(Math.max(diagnostic.Length, 1), available);
  console.log(`    ${sourceLine}`);
  console.log(`    ${' '.repeat(position.queryColumn - 1)}${'^'.repeat(width)}`);
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function validateFile(language, globals, file) {
  const query = readQuery(file);
  const counts = { errors: 0, warnings: 0, suggestions: 0 };

  if (query.text.trim() === '') {
    console.log(`${file}: error: the file contains no query`);
    counts.errors++;
  } else {
    const { code, diagnostics } = analyse(language, globals, query.text);
    for (const diagnostic of diagnostics) {
      const severity = diagnostic.Severity;
      if (severity === language.DiagnosticSeverity.Error) counts.errors++;
      else if (severity === language.DiagnosticSeverity.Warning) counts.warnings++;
      else counts.suggestions++;

      const position = locate(code, query, diagnostic);
      const where = position ? `${file}:${position.line}:${position.column}` : file;
      console.log(`${where}: ${String(severity).toLowerCase()} ${diagnostic.Code}: ${diagnostic.Message}`);
      if (position) printSourceExcerpt(query, position, diagnostic);
    }
    if (diagnostics.length > 0 && query.positionNote) console.log(`${file}: note: ${query.positionNote}`);
  }

  const verdict = counts.errors > 0 ? 'FAILED' : 'ok';
  const tally = [plural(counts.errors, 'error'), plural(counts.warnings, 'warning'), plural(counts.suggestions, 'suggestion')];
  console.log(`${file}: ${verdict} (${tally.join(', ')})`);
  return counts.errors === 0;
}

function main() {
  let options;
  let language;
  let globals;
  try {
    options = parseArguments(process.argv.slice(2));
    const schema = readSchema(options.schemaPath);
    language = loadLanguageService();
    globals = buildGlobals(language, schema, options.schemaPath);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    console.error(`validate: ${error.message}`);
    return EXIT_UNUSABLE_INPUT;
  }

  let passed = 0;
  let failed = 0;
  let unreadable = 0;
  for (const file of options.files) {
    try {
      if (validateFile(language, globals, file)) passed++;
      else failed++;
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      console.error(`validate: ${error.message}`);
      console.log(`${file}: FAILED (not validated)`);
      unreadable++;
    }
  }

  console.log(`validate: ${passed} passed, ${failed + unreadable} failed`);
  if (unreadable > 0) return EXIT_UNUSABLE_INPUT;
  return failed > 0 ? EXIT_ERRORS : EXIT_OK;
}

process.exitCode = main();
