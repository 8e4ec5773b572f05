#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads bytes from the network or disk (tests/fuzz/).
# Builds the SharpFuzz harness, instruments our assemblies, then runs afl-fuzz on each target for a fixed time,
# starting from tests/fuzz/corpus/<target>/ plus tests/fuzz/regressions/<target>/.
#
#   build/fuzz.sh --seconds 20                 # every target, 20 s each (what CI runs, through the Fuzz tests)
#   build/fuzz.sh --seconds 20 frame yamux     # some targets
#   build/fuzz.sh --list                       # the targets
#   PEERCOMPUTE_FUZZ_OUT=/var/tmp/fuzz build/fuzz.sh --seconds 3600   # findings and build elsewhere
#   build/fuzz.sh --prepare                    # build and instrument only; later runs may then pass --no-build
#   build/fuzz.sh --seconds 14400 --keep yamux # a long campaign: 4 hours; --keep resumes the previous findings
#
# Findings land in artifacts/fuzz/findings/<target>/default/{crashes,hangs}/. Exits non-zero and prints the paths
# when a target crashed or hung. To turn a finding into a regression: fix the parser, copy the file to
# tests/fuzz/regressions/<target>/, and the Fuzz tests replay it from then on. Reproduce one without AFL:
#   dotnet artifacts/fuzz/bin/PeerCompute.Fuzz.dll replay <target> <file>
# Needs afl++ (build/ci/setup.sh installs it) and the sharpfuzz dotnet tool (.config/dotnet-tools.json).
set -uo pipefail
# The whole script is one block, read before it runs, so editing it during a long campaign is safe.
{
cd "$(dirname "$0")/.."

seconds=20
keep=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --list) list=1; shift ;;
    --prepare) prepare=1; shift ;;
    --no-build) nobuild=1; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done

out=${PEERCOMPUTE_FUZZ_OUT:-artifacts/fuzz}   # another folder keeps a long campaign apart from the test suite's runs
bin="$out/bin"
mkdir -p "$out"
command -v afl-fuzz >/dev/null || { echo "afl-fuzz is missing: apt-get install afl++ (or bash build/ci/setup.sh)"; exit 2; }

if [ "${nobuild:-0}" = 1 ] && [ -f "$bin/.instrumented" ]; then
  : # reuse the instrumented harness of an earlier --prepare
else
  # Build once, then copy to a fresh folder and instrument there (instrumenting twice breaks an assembly).
  echo "== building the fuzz harness"
  dotnet tool restore >/dev/null || { echo "dotnet tool restore failed"; exit 2; }
  dotnet build tests/fuzz/PeerCompute.Fuzz/PeerCompute.Fuzz.csproj -c Release --nologo -v quiet -o "$out/build" >"$out/build.log" 2>&1 \
    || { cat "$out/build.log"; echo "build failed"; exit 2; }
  rm -rf "$bin" && cp -r "$out/build" "$bin"
  if [ "${list:-0}" = 1 ]; then dotnet "$bin/PeerCompute.Fuzz.dll" list; exit 0; fi
  echo "== instrumenting"
  # Every library of ours the harness references (a new one is instrumented without editing this list), not the
  # harness itself.
  for path in "$bin"/PeerCompute.*.dll; do
    dll=$(basename "$path" .dll)
    [ "$dll" = PeerCompute.Fuzz ] && continue
    dotnet tool run sharpfuzz "$path" >/dev/null || { echo "instrumenting $dll failed"; exit 2; }
  done
  touch "$bin/.instrumented"
fi
[ "${prepare:-0}" = 1 ] && exit 0

[ ${#targets[@]} -eq 0 ] && mapfile -t targets < <(dotnet "$bin/PeerCompute.Fuzz.dll" list | awk '{print $1}')

# AFL as root, without a terminal or a core dump handler, on a shared machine.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 \
       AFL_FAST_CAL=1 AFL_FORKSRV_INIT_TMOUT=60000 AFL_NO_WARN_INSTABILITY=1 AFL_SKIP_CRASHES=1 \
       DOTNET_TieredPGO=0 DOTNET_CLI_TELEMETRY_OPTOUT=1

status=0
printf '%-20s %8s %10s %8s %8s %8s\n' target seconds execs/s paths crashes hangs
for t in "${targets[@]}"; do
  in="$out/in/$t"
  rm -rf "$in" && mkdir -p "$in"
  cp tests/fuzz/corpus/"$t"/* "$in"/ 2>/dev/null
  [ -d tests/fuzz/regressions/"$t" ] && cp tests/fuzz/regressions/"$t"/* "$in"/ 2>/dev/null
  if [ -z "$(ls -A "$in")" ]; then echo "$t: no corpus (tests/fuzz/corpus/$t)"; status=1; continue; fi
  findings="$out/findings/$t"
  resume=()
  if [ "$keep" = 1 ] && [ -d "$findings/default" ]; then
    resume=(-i -); export AFL_AUTORESUME=1
  else
    rm -rf "$findings"
    resume=(-i "$in")
  fi
  mkdir -p "$findings"
  stats="$findings/default/fuzzer_stats"
  # On a loaded machine afl-fuzz's dry run now and then sees an empty coverage map from the .NET harness ("No
  # instrumentation detected") and gives up before fuzzing; once more is enough. A real crash or hang is still reported.
  for try in 1 2; do
    afl-fuzz "${resume[@]}" -o "$findings" -V "$seconds" -t 10000 -m none -- dotnet "$bin/PeerCompute.Fuzz.dll" "$t" >"$findings/afl.log" 2>&1
    afl_status=$?
    [ -f "$stats" ] && break
    grep -q "No instrumentation detected" "$findings/afl.log" || break
    [ "$try" = 1 ] && echo "$t: afl-fuzz saw no instrumentation in its dry run; trying once more" >&2
    [ "${resume[1]}" = - ] || rm -rf "$findings/default"
  done
  if [ ! -f "$stats" ]; then
    echo "$t: afl-fuzz did not start (exit $afl_status); see $findings/afl.log"; tail -5 "$findings/afl.log"; status=1; continue
  fi
  get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
  crashes=$(find "$findings/default/crashes" -name 'id:*' 2>/dev/null | wc -l)
  hangs=$(find "$findings/default/hangs" -name 'id:*' 2>/dev/null | wc -l)
  printf '%-20s %8s %10s %8s %8s %8s\n' "$t" "$(get run_time)" "$(get execs_per_sec)" "$(get corpus_count)" "$crashes" "$hangs"
  if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
    status=1
    find "$findings/default/crashes" "$findings/default/hangs" -name 'id:*' 2>/dev/null | sed 's/^/  finding: /'
  fi
done
exit $status
}
