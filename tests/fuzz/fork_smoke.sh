#!/usr/bin/env bash
# fork_smoke.sh FUZZER ARTIFACTS NAME [libFuzzer args...]
# Fuzz-smoke for the HDF5 targets. libhdf5 1.10 itself still crashes on some corrupt files
# (README.md, "libhdf5 crashes"), so the target fuzzes in fork mode, going on after a crash. In that
# mode libFuzzer exits with whatever its last job returned, which would pass or fail the test at
# random. Instead every crash, out-of-memory and timeout input of this run is replayed on its own and
# the test fails unless the report's first frame below the sanitizer and libc lies in libhdf5.
# Inputs go to ARTIFACTS either way.
set -u
fuzzer=$1 artifacts=$2 name=$3
shift 3
run_dir=$(mktemp -d)
trap 'rm -rf "$run_dir"' EXIT

"$fuzzer" -fork=1 -ignore_crashes=1 -artifact_prefix="$run_dir/$name-" "$@"
rc=$?

# Frames that say nothing about whose code broke: sanitizer interceptors, allocation and string
# functions, libc, the C++ runtime and libFuzzer's own handlers.
not_blame='in (__interceptor_|__asan|__sanitizer|__ubsan|__lsan|fuzzer::|malloc|calloc|realloc|free|strdup|strndup|strlen|memcpy|memmove|memset|memcmp|operator new|operator delete)|sysdeps|libc\.so|libstdc\+\+|<null>'
mkdir -p "$artifacts"
found=0 ours=0
for input in "$run_dir/$name"-*; do
  [ -e "$input" ] || continue
  found=$((found + 1))
  base=$(basename "$input")
  cp "$input" "$artifacts/"
  report=$("$fuzzer" -rss_limit_mb=2048 -timeout=10 "$input" 2>&1)
  replay_rc=$?
  frame=$(printf '%s\n' "$report" | grep -E '^ +#[0-9]+ ' | grep -vE "$not_blame" | head -1)
  if [ "$replay_rc" -eq 0 ]; then
    echo "fork_smoke: $base did not reproduce on its own (kept in $artifacts)"
  elif printf '%s' "$frame" | grep -q 'libhdf5'; then
    echo "fork_smoke: $base: inside libhdf5, as in README.md: ${frame#"${frame%%[! ]*}"}"
  else
    ours=$((ours + 1))
    echo "fork_smoke: $base: NOT inside libhdf5; its report:"
    printf '%s\n' "$report" | grep -vE '^(INFO|MS:|base64|Running:|Executed)' | head -60
  fi
done

echo "fork_smoke: libFuzzer exit code $rc; $found input(s) found, $ours outside libhdf5"
if [ "$ours" -gt 0 ]; then exit 1; fi
if [ "$found" -eq 0 ] && [ "$rc" -ne 0 ]; then exit "$rc"; fi
exit 0
