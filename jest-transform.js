/**
 * Jest transform: TypeScript (and the ESM-only dependencies, such as middy) to CommonJS with esbuild.
 * Type checking is `npm run typecheck`. esbuild rather than swc because swc's per-platform binaries are not all on
 * every registry mirror, which breaks `npm ci` (see README, "Choices").
 */
const { transformSync } = require('esbuild');

module.exports = {
  process(source, path) {
    const loader = path.endsWith('.ts') ? 'ts' : path.endsWith('.mjs') ? 'js' : 'js';
    // Jest's CommonJS runtime cannot run import(): esbuild turns it into require() as swc and ts-jest do.
    const { code, map } = transformSync(source, { loader, format: 'cjs', target: 'node20', sourcemap: true, sourcefile: path, keepNames: true, supported: { 'dynamic-import': false } });
    return { code, map };
  },
  getCacheKey(source, path) {
    return require('node:crypto').createHash('sha1').update(`esbuild-2|${path}|${source}`).digest('hex');
  },
};
