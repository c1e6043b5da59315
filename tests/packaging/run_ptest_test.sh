#!/bin/sh
# Checks packaging/meta-weir's run-ptest on the build machine, as ptest-runner would run it on a
# target: a ptest directory with real unit-test programs and two broken ones.
#   run_ptest_test.sh RUN_PTEST PASSING_TEST SCHEMA_TEST
# PASSING_TEST: a unit-test program whose cases all pass; SCHEMA_TEST: config_schema_test, whose
# README check run-ptest must skip. Fails (exit 1) with the reason on the first wrong outcome.
set -u
run_ptest=$1 passing=$2 schema=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/tests"
cp "$run_ptest" "$dir/run-ptest"
cp "$passing" "$schema" "$dir/tests/"
fail() { echo "run_ptest_test: $1"; echo "--- output:"; cat "$dir/out"; exit 1; }

# All pass: a PASS: line per case, exit 0, no FAIL:.
"$dir/run-ptest" >"$dir/out" 2>&1 || fail "exit status $? with passing tests"
name=$(basename "$passing")
cases=$("$passing" --gtest_list_tests | grep -c '^  ')
passes=$(grep -c "^PASS: $name\." "$dir/out")
[ "$passes" -eq "$cases" ] || fail "$passes PASS: lines for $name, expected $cases"
grep -q '^FAIL:' "$dir/out" && fail "FAIL: line with passing tests"
grep -q "^SKIP: config_schema_test.ConfigSchema.ReadmeReferenceMatchesTheSchema$" "$dir/out" ||
  fail "the README check of config_schema_test is not reported as SKIP:"
grep -q "^PASS: config_schema_test.ConfigSchema.ReadmeReferenceMatchesTheSchema" "$dir/out" &&
  fail "the README check of config_schema_test ran"

# A program reporting a failed case, in GoogleTest's output format.
cat >"$dir/tests/fake_failing_test" <<'EOS'
#!/bin/sh
case "$*" in *--gtest_list_tests*) printf 'Fake.\n  Good\n  Bad\n'; exit 0;; esac
printf '[ RUN      ] Fake.Good\n[       OK ] Fake.Good (0 ms)\n'
printf '[ RUN      ] Fake.Bad\nx.cc:1: Failure\n[  FAILED  ] Fake.Bad (1 ms)\n'
printf '[  PASSED  ] 1 test.\n[  FAILED  ] 1 test, listed below:\n[  FAILED  ] Fake.Bad\n'
exit 1
EOS
# A program that dies before its summary.
cat >"$dir/tests/fake_crashing_test" <<'EOS'
#!/bin/sh
case "$*" in *--gtest_list_tests*) exit 0;; esac
printf '[ RUN      ] Crash.Now\n'
kill -SEGV $$
EOS
chmod +x "$dir/tests/fake_failing_test" "$dir/tests/fake_crashing_test"
"$dir/run-ptest" >"$dir/out" 2>&1 && fail "exit status 0 with a failing test"
grep -q '^PASS: fake_failing_test.Fake.Good$' "$dir/out" || fail "no PASS: for Fake.Good"
[ "$(grep -c '^FAIL: fake_failing_test.Fake.Bad$' "$dir/out")" -eq 1 ] ||
  fail "not exactly one FAIL: for Fake.Bad (the summary repeats the name)"
grep -q '^FAIL: fake_crashing_test$' "$dir/out" || fail "no FAIL: for the program that crashed"
grep -q "^PASS: $name\." "$dir/out" || fail "the passing program's lines are missing"
echo "run_ptest_test: ok"
