#!/bin/sh
# The installed package, as a new machine gets it: npm pack, npm install -g into a scratch prefix
# (fetches the dependencies and builds better-sqlite3: about two minutes), then `coffer server`
# from that PATH answers /ready and serves a secret. Usage: deploy/smoke-install.sh
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/coffer-smoke-XXXXXX")
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

(cd "$repo" && npm pack --silent --pack-destination "$work" >/dev/null)
tarball=$(ls "$work"/coffer-*.tgz)
echo "packed $(basename "$tarball")"
npm install -g --silent --prefix "$work/prefix" "$tarball"
PATH="$work/prefix/bin:$PATH"
command -v coffer
coffer --help >/dev/null

coffer server --port 0 --data-dir "$work/data" >"$work/server.log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^Coffer listening on \(.*\)$/\1/p' "$work/server.log")
  [ -n "$url" ] && break
  sleep 0.2
done
[ -n "$url" ] || { cat "$work/server.log"; exit 1; }
curl -fsS "$url/ready"; echo
curl -fsS "$url/metrics" >"$work/metrics.txt"
grep -q '^# TYPE coffer_requests_total counter' "$work/metrics.txt"

# A secret through the SDK the package installed.
export AWS_SHARED_CREDENTIALS_FILE="$work/data/admin-credentials" AWS_REGION=us-east-1 AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
sdk="$work/prefix/lib/node_modules/coffer/node_modules/@aws-sdk/client-secrets-manager/dist-cjs/index.js"
node -e '
const { SecretsManagerClient, CreateSecretCommand, GetSecretValueCommand } = require(process.argv[1]);
const c = new SecretsManagerClient({ endpoint: process.argv[2] });
c.send(new CreateSecretCommand({ Name: "smoke/test", SecretString: "installed" }))
  .then(() => c.send(new GetSecretValueCommand({ SecretId: "smoke/test" })))
  .then((v) => { if (v.SecretString !== "installed") process.exit(1); console.log("secret served by the installed package"); });
' "$sdk" "$url"
echo "ok"
