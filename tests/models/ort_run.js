// Runs a model in ONNX Runtime (onnxruntime-node) on .npy inputs and writes its outputs as .npy.
// Usage: node ort_run.js MODEL INPUT_DIR OUTPUT_DIR [--threads N] [--bench ITER] [--opt-level basic|all]
//        [--save-optimized PATH] [--profile PREFIX]
// With --profile (and --bench), ONNX Runtime's own per-node profiler is on during the timed runs; its trace (Chrome
// trace JSON) is written to PREFIX_<date>.json and its path printed as "profile_file" (bench/ort_profile reads it).
// With --bench, prints one JSON line {"p50_ms", "min_ms", "iterations", "peak_rss_mb", "baseline_rss_mb"}
// instead of writing outputs (baseline: the process's RSS before the model was loaded).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, '../../.cache/npm/node_modules/onnxruntime-node'));

const NPY_TYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array], '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array], '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array], '|b1': ['bool', Uint8Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.slice(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter((s) => s.trim()).map(Number);
  const [type, Ctor] = NPY_TYPES[descr];
  const data = buf.slice(start + headerLen);
  const copy = new Uint8Array(data.length);
  copy.set(data);
  const arr = new Ctor(copy.buffer, 0, data.length / Ctor.BYTES_PER_ELEMENT);
  return new ort.Tensor(type, type === 'bool' ? Uint8Array.from(arr) : arr, shape);
}

function writeNpy(file, tensor) {
  const descr = { float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', uint8: '|u1', int8: '|i1', bool: '|b1' }[tensor.type];
  const dims = tensor.dims.length === 1 ? `${tensor.dims[0]},` : tensor.dims.join(',');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  const pad = (64 - ((10 + header.length + 1) % 64)) % 64;
  header += ' '.repeat(pad) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from('\x93NUMPY', 'latin1').copy(pre);
  pre[6] = 1; pre[7] = 0; pre.writeUInt16LE(header.length, 8);
  const data = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), data]));
}

function sanitize(name) { return name.replace(/[/:\\]/g, '_'); }

async function main() {
  const [model, inDir, outDir, ...rest] = process.argv.slice(2);
  const opt = (flag, def) => { const i = rest.indexOf(flag); return i >= 0 ? rest[i + 1] : def; };
  const threads = Number(opt('--threads', '1'));
  const benchIters = Number(opt('--bench', '0'));
  const options = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: opt('--opt-level', 'all'),
    executionMode: 'sequential', logSeverityLevel: 3 };
  if (opt('--save-optimized', '')) options.optimizedModelFilePath = opt('--save-optimized', '');
  const profilePrefix = opt('--profile', '');
  if (profilePrefix) Object.assign(options, { enableProfiling: true, profileFilePrefix: profilePrefix });
  const baselineRss = process.memoryUsage().rss / 1048576;  // node + the ORT addon before any model is loaded
  const session = await ort.InferenceSession.create(model, options);
  const feeds = {};
  for (const name of session.inputNames) feeds[name] = readNpy(path.join(inDir, `${sanitize(name)}.npy`));
  if (benchIters > 0) {
    for (let i = 0; i < 5; ++i) await session.run(feeds);
    const lat = [];
    for (let i = 0; i < benchIters; ++i) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    lat.sort((a, b) => a - b);
    const result = { p50_ms: lat[Math.floor(lat.length / 2)], min_ms: lat[0], iterations: lat.length,
      peak_rss_mb: process.resourceUsage().maxRSS / 1024, baseline_rss_mb: baselineRss };
    if (profilePrefix) {
      // endProfiling() flushes the trace; the addon does not return its path, so take the newest matching file.
      session.endProfiling();
      const dir = path.dirname(path.resolve(profilePrefix)), base = path.basename(profilePrefix);
      const files = fs.readdirSync(dir).filter((f) => f.startsWith(`${base}_`) && f.endsWith('.json'))
        .map((f) => path.join(dir, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
      result.profile_file = files[0];
    }
    console.log(JSON.stringify(result));
    return;
  }
  const out = await session.run(feeds);
  fs.mkdirSync(outDir, { recursive: true });
  for (const name of session.outputNames) writeNpy(path.join(outDir, `${sanitize(name)}.npy`), out[name]);
}

main().catch((e) => { console.error(`ort_run: ${e.message}`); process.exit(1); });
