#!/usr/bin/env bash
# Regenerates the gogoproto Go code in proto/fedledger/v1 from the .proto files.
# Tools (both from the Go module proxy):
#   go install github.com/bufbuild/buf/cmd/buf@v1.75.0
#   go install github.com/cosmos/gogoproto/protoc-gen-gocosmos@v1.7.2
# Works offline: gogo.proto is taken from the Go module cache, not the buf registry.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
export PATH="$(go env GOPATH)/bin:$PATH"
gogo=$(go list -m -f '{{.Dir}}' github.com/cosmos/gogoproto)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/gogoproto"
cp -r "$here/fedledger" "$work/src/"
cp "$gogo/gogoproto/gogo.proto" "$work/src/gogoproto/"
cat > "$work/src/buf.yaml" <<'YAML'
version: v2
YAML
cat > "$work/buf.gen.yaml" <<YAML
version: v2
plugins:
  - local: protoc-gen-gocosmos
    out: $work/out
    opt:
      - paths=source_relative
      - Mgoogle/protobuf/descriptor.proto=github.com/cosmos/gogoproto/protoc-gen-gogo/descriptor
YAML
(cd "$work" && buf generate src --template buf.gen.yaml --path src/fedledger)
cp "$work"/out/fedledger/v1/*.pb.go "$here/fedledger/v1/"
echo "generated: $(cd "$here/fedledger/v1" && ls *.pb.go | tr '\n' ' ')"
