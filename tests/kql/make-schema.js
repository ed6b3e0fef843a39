#!/usr/bin/env node
// Builds schema.json, the Log Analytics tables that validate.js checks queries against.
//
// Usage: node make-schema.js [--shared DIR] [--check]
//   --shared DIR  folder with the research notes and real samples (default: ../shared beside
//                 the repository, the layout that the developers' machines and CI use)
//   --check       compare the generated schema with the committed schema.json and exit 1 if
//                 they differ, without writing anything
//
// Where each column list comes from:
//   StorageBlobLogs, StorageFileLogs, AADNonInteractiveUserSignInLogs: the column schema files
//     (name, type, physical order) that Sentinel's KQL validation CI uses, from the
//     Azure/Azure-Sentinel repository, .script/tests/KqlvalidationsTests/CustomTables/*.json.
//     The storage files are an older snapshot, so the columns that live workspaces append
//     (ObjectKey, MetricResponseType, SourceUri, AccessTier, _SubscriptionId, ...) are added
//     after them from the Azure Monitor table reference lists.
//   SigninLogs: the Azure Monitor table reference list (name and KQL type).
//   AADServicePrincipalSignInLogs, AADManagedIdentitySignInLogs: the Azure Monitor table
//     reference list, given there with a type only where it is not string.
// The CI schema files are read from samples/real/azure-sentinel and the reference lists from
// the research notes reference/formats.md, both in the shared folder.
//
// The script rejects an unknown type, a column whose type differs between two sources, and a
// section that it cannot find, so a reworded note fails here instead of dropping columns.
'use strict';

const fs = require('fs');
const path = require('path');

const SCHEMA_PATH = path.join(__dirname, 'schema.json');
const DATABASE_NAME = 'blobtrail';

// The scalar types of the Kusto query language, in the spelling that schema.json uses.
const KQL_TYPES = new Set([
  'bool', 'int', 'long', 'real', 'decimal', 'datetime', 'timespan', 'guid', 'string', 'dynamic',
]);

// Columns that the Azure Monitor reference gives a non-string type in every table. The
// service-principal and managed-identity list names them without a type.
const STANDARD_COLUMN_TYPES = { TimeGenerated: 'datetime', _BilledSize: 'real' };

function fail(message) {
  console.error(`make-schema: ${message}`);
  process.exit(2);
}

function parseArguments(argv) {
  const options = { shared: path.resolve(__dirname, '..', '..', '..', 'shared'), check: false };
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if (argument === '--check') {
      options.check = true;
    } else if (argument === '--shared') {
      if (i + 1 >= argv.length) fail('--shared needs a folder');
      options.shared = path.resolve(argv[++i]);
    } else {
      fail(`unknown argument "${argument}". Usage: node make-schema.js [--shared DIR] [--check]`);
    }
  }
  return options;
}

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    fail(`cannot read ${file}: ${error.message}. Pass the folder that contains it with --shared DIR.`);
  }
}

function normaliseType(type, where) {
  const lower = type.toLowerCase();
  if (!KQL_TYPES.has(lower)) fail(`${where}: "${type}" is not a KQL scalar type`);
  return lower;
}

// Reads one Sentinel CI schema file: {"Name": table, "Properties": [{"Name", "Type"}, ...]}.
// Its type names vary in case between files ("string", "String", "DateTime").
function readSentinelSchema(shared, table) {
  const file = path.join(shared, 'samples', 'real', 'azure-sentinel', `kqlvalidation-${table}.json`);
  let document;
  try {
    document = JSON.parse(readText(file));
  } catch (error) {
    fail(`${file} is not valid JSON: ${error.message}`);
  }
  if (document.Name !== table || !Array.isArray(document.Properties) || document.Properties.length === 0) {
    fail(`${file} does not describe table ${table} with a non-empty Properties list`);
  }
  return document.Properties.map((property) => ({
    name: property.Name,
    type: normaliseType(property.Type, `${file}, column ${property.Name}`),
  }));
}

// Returns the text of the one "###" section whose heading names the table, up to the next heading.
function findSection(notes, notesPath, table) {
  const lines = notes.split(/\r?\n/);
  const headingPattern = new RegExp(`^###\\s.*\\b${table}\\b`);
  const starts = [];
  lines.forEach((line, index) => {
    if (headingPattern.test(line)) starts.push(index);
  });
  if (starts.length !== 1) {
    fail(`${notesPath} has ${starts.length} "###" headings that name ${table}, expected 1`);
  }
  let end = starts[0] + 1;
  while (end < lines.length && !/^#{1,3}\s/.test(lines[end])) end++;
  return lines.slice(starts[0] + 1, end).join('\n');
}

function firstCodeBlock(section, table) {
  const match = /```[^\n]*\n([\s\S]*?)```/.exec(section);
  if (!match) fail(`the ${table} section of formats.md has no code block with a column list`);
  return match[1];
}

// Parses a comma-separated column list whose entries read "Name type", "Name (type)" or "Name".
// A name without a type gets undefined, for the caller to fill in.
function parseColumnList(text, where) {
  const entries = text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  return entries.map((entry) => {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:\s+\(?([A-Za-z]+)\)?)?$/.exec(entry);
    if (!match) fail(`${where}: cannot read the column entry "${entry}"`);
    const type = match[2] === undefined ? undefined : normaliseType(match[2], `${where}, column ${match[1]}`);
    return { name: match[1], type };
  });
}

// Appends the columns of `extra` that `base` lacks, and rejects a column typed differently in both.
function appendMissingColumns(base, extra, where) {
  const types = new Map(base.map((column) => [column.name, column.type]));
  const merged = base.slice();
  for (const column of extra) {
    if (!types.has(column.name)) {
      merged.push(column);
      types.set(column.name, column.type);
    } else if (types.get(column.name) !== column.type) {
      fail(`${where}: column ${column.name} is ${types.get(column.name)} in one source and ${column.type} in the other`);
    }
  }
  return merged;
}

function checkUniqueNames(columns, table) {
  const seen = new Set();
  for (const column of columns) {
    if (seen.has(column.name)) fail(`table ${table} lists column ${column.name} twice`);
    seen.add(column.name);
  }
}

function buildSchema(shared) {
  const notesPath = path.join(shared, 'reference', 'formats.md');
  const notes = readText(notesPath);

  const blobSection = findSection(notes, notesPath, 'StorageBlobLogs');
  const blobReference = parseColumnList(firstCodeBlock(blobSection, 'StorageBlobLogs'), 'StorageBlobLogs reference list');
  if (blobReference.some((column) => column.type === undefined)) {
    fail('the StorageBlobLogs reference list has a column without a type');
  }

  // The notes give the file table as the blob list minus the blob-only columns, plus the SMB ones.
  const fileSection = findSection(notes, notesPath, 'StorageFileLogs');
  const difference = /\*\*minus\*\*([\s\S]*?)\*\*plus\*\*/.exec(fileSection);
  if (!difference) fail('the StorageFileLogs section no longer reads "**minus** ... **plus**"');
  const blobOnly = new Set([...difference[1].matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map((match) => match[1]));
  if (blobOnly.size === 0) fail('the StorageFileLogs section lists no blob-only columns after "**minus**"');
  const fileOnly = parseColumnList(firstCodeBlock(fileSection, 'StorageFileLogs'), 'StorageFileLogs reference list');
  const fileReference = blobReference.filter((column) => !blobOnly.has(column.name)).concat(fileOnly);

  // NOTE: this list has no TenantId, _ResourceId or _SubscriptionId, although real SigninLogs
  // exports carry TenantId, so a query that uses those columns fails validation here.
  const signinSection = findSection(notes, notesPath, 'SigninLogs');
  const signin = parseColumnList(firstCodeBlock(signinSection, 'SigninLogs'), 'SigninLogs reference list');
  if (signin.some((column) => column.type === undefined)) {
    fail('the SigninLogs reference list has a column without a type');
  }

  // The Azure Monitor reference types every column of these two tables as string, except the
  // ones that the list marks and the standard TimeGenerated and _BilledSize.
  const servicePrincipalSection = findSection(notes, notesPath, 'AADServicePrincipalSignInLogs');
  const servicePrincipal = parseColumnList(
    firstCodeBlock(servicePrincipalSection, 'AADServicePrincipalSignInLogs'),
    'AADServicePrincipalSignInLogs reference list',
  ).map((column) => ({ name: column.name, type: column.type || STANDARD_COLUMN_TYPES[column.name] || 'string' }));

  const tables = {
    StorageBlobLogs: appendMissingColumns(readSentinelSchema(shared, 'StorageBlobLogs'), blobReference, 'StorageBlobLogs'),
    StorageFileLogs: appendMissingColumns(readSentinelSchema(shared, 'StorageFileLogs'), fileReference, 'StorageFileLogs'),
    AADNonInteractiveUserSignInLogs: readSentinelSchema(shared, 'AADNonInteractiveUserSignInLogs'),
    SigninLogs: signin,
    AADServicePrincipalSignInLogs: servicePrincipal,
    AADManagedIdentitySignInLogs: servicePrincipal.map((column) => ({ ...column })),
  };
  for (const [table, columns] of Object.entries(tables)) checkUniqueNames(columns, table);

  return { database: DATABASE_NAME, generatedBy: 'tests/kql/make-schema.js', tables };
}

// Writes one column per line, which keeps diffs readable and the file shorter than indented JSON.
function formatSchema(schema) {
  const tableBlocks = Object.entries(schema.tables).map(([table, columns]) => {
    const columnLines = columns.map((column) => `      ${JSON.stringify(column)}`).join(',\n');
    return `    ${JSON.stringify(table)}: [\n${columnLines}\n    ]`;
  });
  return [
    '{',
    `  "database": ${JSON.stringify(schema.database)},`,
    `  "generatedBy": ${JSON.stringify(schema.generatedBy)},`,
    '  "tables": {',
    tableBlocks.join(',\n'),
    '  }',
    '}',
    '',
  ].join('\n');
}

function main() {
  const options = parseArguments(process.argv.slice(2));
  const text = formatSchema(buildSchema(options.shared));

  if (options.check) {
    let committed = null;
    try {
      committed = fs.readFileSync(SCHEMA_PATH, 'utf8');
    } catch (error) {
      fail(`cannot read ${SCHEMA_PATH}: ${error.message}`);
    }
    if (committed !== text) {
      console.error(`make-schema: ${SCHEMA_PATH} is out of date; run node make-schema.js to rebuild it`);
      process.exit(1);
    }
    console.log(`make-schema: ${SCHEMA_PATH} is up to date`);
    return;
  }

  fs.writeFileSync(SCHEMA_PATH, text);
  const schema = JSON.parse(text);
  for (const [table, columns] of Object.entries(schema.tables)) {
    console.log(`${table}: ${columns.length} columns`);
  }
  console.log(`wrote ${SCHEMA_PATH}`);
}

main();
