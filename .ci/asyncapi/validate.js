// Parse an AsyncAPI document with @asyncapi/parser; print its diagnostics and counts as JSON.
// Exit 0 when the document parsed without errors (severity 0), 1 otherwise.
const { Parser } = require('@asyncapi/parser');
const fs = require('fs');

(async () => {
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const report = {
    diagnostics: diagnostics.map((d) => ({ severity: d.severity, code: d.code, message: d.message, path: d.path })),
    channels: document ? document.channels().all().map((c) => c.address()) : [],
    operations: document ? document.operations().all().map((o) => o.id()) : [],
    messages: document ? document.components().messages().all().map((m) => m.id()) : [],
  };
  console.log(JSON.stringify(report));
  process.exit(document && !diagnostics.some((d) => d.severity === 0) ? 0 : 1);
})();
