// The Node peer of benches/serve.sh: Node's `http` module, one process, the same work
// as the Strata handlers.
//   node node.js trivial   every request: 200 "ok"
//   node node.js json      JSON.parse the body, read "name", increment a global counter,
//                          answer "hello NAME HITS"
// Binds 127.0.0.1 on a free port and prints `listening on http://127.0.0.1:P` first.
'use strict';
const http = require('http');
const mode = process.argv[2] || 'trivial';
let hits = 0;
const trivial = (req, res) => { res.end('ok'); };
const json = (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let v;
    try { v = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch (e) {
      res.statusCode = 500; res.end(String(e)); return;
    }
    const name = (v !== null && typeof v === 'object' && typeof v.name === 'string') ? v.name : 'world';
    hits += 1;
    res.end('hello ' + name + ' ' + hits);
  });
};
if (mode !== 'trivial' && mode !== 'json') { console.error(`usage: node node.js trivial|json`); process.exit(2); }
const server = http.createServer(mode === 'json' ? json : trivial);
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
