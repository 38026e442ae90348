#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# sfcctl as a command: exit codes (0 ok, 1 failure, 2 usage), help
# everywhere, prefix matching, -j errors as JSON, validate without privileges,
# and every example chain validates.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_sfcctl

rc() { "$@" >/dev/null 2>&1; echo $?; }

is "$(rc "$SFCCTL" help)" 0 "help"
is "$(rc "$SFCCTL" --help)" 0 "--help"
is "$(rc "$SFCCTL" help apply)" 0 "help apply"
is "$(rc "$SFCCTL" apply help)" 0 "apply help"
is "$(rc "$SFCCTL" version)" 0 "version"
check "help names every command" bash -c \
	"'$SFCCTL' help | grep -q apply && '$SFCCTL' help | grep -q delete && '$SFCCTL' help | grep -q validate"
is "$(rc "$SFCCTL")" 2 "no command is a usage error"
is "$(rc "$SFCCTL" frobnicate)" 2 "unknown command"
is "$(rc "$SFCCTL" --frob status)" 2 "unknown option"
is "$(rc "$SFCCTL" validate)" 2 "validate without a file"
is "$(rc "$SFCCTL" validate a b)" 2 "validate with two files"
is "$(rc "$SFCCTL" stat x)" 2 "ambiguous prefix (status, stats)"
err=$("$SFCCTL" stat x 2>&1)
check "ambiguous prefix lists the candidates" grep -q "stats" <<<"$err"
is "$(rc "$SFCCTL" -n a/b status)" 2 "netns name with a slash"
is "$(rc "$SFCCTL" delete 'Bad_Name')" 2 "bad chain name is a usage error"

for f in "$SFC_SRC_DIR"/chains/*.yaml; do
	check "validate $(basename "$f")" "$SFCCTL" validate "$f"
done
is "$(rc "$SFCCTL" vali "$SFC_SRC_DIR/chains/demo.yaml")" 0 "prefix vali = validate"
out=$("$SFCCTL" -j validate "$SFC_SRC_DIR/chains/demo.yaml")
check "validate -j" grep -q '"valid":true' <<<"$out"

cat >"$TEST_TMP/bad.yaml" <<'EOF'
apiVersion: sfc/v1alpha1
kind: Chain
metadata:
  name: bad
spec:
  interface: in0
  functions:
    - name: fw
      type: passthrough
    - name: fw
      type: passthrough
EOF
err=$("$SFCCTL" validate "$TEST_TMP/bad.yaml" 2>&1)
is "$?" 1 "invalid file: exit 1"
check "error has file:line:col and key path" \
	grep -q "bad.yaml:10:13: spec.functions\[1\].name: duplicate function name" <<<"$err"
out=$("$SFCCTL" -j validate "$TEST_TMP/bad.yaml" 2>/dev/null)
check "-j error is JSON on stdout" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["line"] == 10 and d["col"] == 13 and d["path"] == "spec.functions[1].name", d
assert "duplicate" in d["error"]' "$out"
is "$(rc "$SFCCTL" validate "$TEST_TMP/missing.yaml")" 1 "missing file: exit 1"

# validate needs no privileges.
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	chmod 755 "$TEST_TMP"
	chmod 644 "$TEST_TMP/bad.yaml"
	cp "$SFC_SRC_DIR/chains/demo.yaml" "$TEST_TMP/demo.yaml"
	chmod 644 "$TEST_TMP/demo.yaml"
	check "validate as nobody" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$SFCCTL" validate "$TEST_TMP/demo.yaml"
else
	skip "validate as nobody: needs root and setpriv"
fi

is "$(rc "$SFCCTL" status no-such-chain)" 1 "status of a missing chain: exit 1"
is "$(rc "$SFCCTL" delete no-such-chain)" 1 "delete of a missing chain: exit 1"
if command -v groff >/dev/null; then
	check "man page renders without warnings" bash -c \
		"groff -man -Tutf8 -ww '$SFC_SRC_DIR/docs/sfcctl.8' 2>&1 >/dev/null | (! grep -q .)"
else
	skip "man page check: groff is not installed"
fi

done_testing
