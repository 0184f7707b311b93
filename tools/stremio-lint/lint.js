// Lints Stremio addon manifests with stremio-addon-linter.
// Usage: node lint.js manifest.json [more.json ...]; exits 1 on any error or warning.
const fs = require('fs')
const { lintManifest } = require('stremio-addon-linter')

let failed = false
for (const file of process.argv.slice(2)) {
  const result = lintManifest(JSON.parse(fs.readFileSync(file, 'utf8')))
  const problems = result.errors.concat(result.warnings || []).map(String)
  console.log(JSON.stringify({ file, valid: result.valid, problems }))
  if (!result.valid || problems.length) failed = true
}
process.exit(failed ? 1 : 0)
