#!/usr/bin/env bash
# Checks api/LIMITS.md, the table of every limit a client can reach, against
# the code (ctest LimitsTable):
#  - every test a row names exists: `file` then `Suite.Name` means a line
#    TEST(Suite, Name), TEST_F(...) or TEST_P(...) in that file;
#  - a row without a test says why, starting "none";
#  - a flag's default (the first number of the default column) equals the
#    default of `ticketd --help` ("--flag TYPE=DEFAULT") (or `ticketctl <verb> --help` when the
#    cell names `ticketctl <verb>`);
#  - a constant's default, written `name` (`file`), equals its definition
#    `name = <expression>` in that file (digit separators, integer suffixes
#    and size_t{n} casts allowed; the expression is evaluated by the shell).
# Usage: limits_table_test.sh BUILD_DIR [LIMITS.md]
set -uo pipefail

build=${1:?usage: limits_table_test.sh BUILD_DIR [LIMITS.md]}
src=$(cd "$(dirname "$0")/../.." && pwd)
table=${2:-$src/api/LIMITS.md}
ticketd=$build/ticketd
ticketctl=$build/ticketctl
[[ -x $ticketd ]] || { echo "no $ticketd: build target ticketd first" >&2; exit 1; }

failures=0 rows=0 tests=0 flags=0 constants=0 untested=0
fail() {
  echo "LIMITS.md:$line_no: $*" >&2
  failures=$((failures + 1))
}

# The first number in `text`, separators (, ' _) removed; empty if none.
first_number() { grep -oE '^[0-9][0-9,'"'"'_]*' <<<"$1" | head -1 | tr -d ",'_"; }

declare -A help_cache
help_of() {  # help_of "ticketd" | help_of "ticketctl token"
  local key=$1
  if [[ -z ${help_cache[$key]+x} ]]; then
    if [[ $key == ticketd ]]; then
      help_cache[$key]=$("$ticketd" --help 2>&1)
    else
      [[ -x $ticketctl ]] || { echo "no $ticketctl: build target ticketctl" >&2; exit 1; }
      # shellcheck disable=SC2086
      help_cache[$key]=$("$ticketctl" ${key#ticketctl } --help 2>&1)
    fi
  fi
  printf '%s\n' "${help_cache[$key]}"
}

# The default CLI11 prints for `flag` in `help`: "--flag TYPE[:range]=DEFAULT".
flag_default() {
  local help=$1 flag=$2
  grep -E "^\s*(-[a-zA-Z], )?${flag}( |,|$)" <<<"$help" | head -1 |
    sed -E "s/.*${flag}//" | grep -oE '=[^ ]+' | head -1 | cut -c2-
}

# Evaluates the definition of `name` in `file` (the text after "name =" up
# to ';', ',' or ')' at the end of a member default).
constant_value() {
  local name=$1 file=$2 expr
  expr=$(grep -E "(^|[^A-Za-z0-9_])${name}\s*=\s*[^=]" "$src/$file" | head -1 |
    sed -E "s/.*(^|[^A-Za-z0-9_])${name}\s*=\s*//; s/[;)].*//; s/,.*//")
  [[ -n $expr ]] || return 1
  expr=$(sed -E "s/'//g; s/(size_t|uint64_t|uint32_t|int64_t)\{([0-9]+)\}/\2/g; s/([0-9])(ull|ULL|ul|UL|u|U|ll|LL)\b/\1/g" <<<"$expr")
  [[ $expr =~ ^[0-9\ \*\<\+\(\)-]+$ ]] || return 1
  echo $((expr))
}

line_no=0
while IFS= read -r line; do
  line_no=$((line_no + 1))
  [[ $line == '| '* ]] || continue
  [[ $line == '| limit |'* || $line == '|---'* ]] && continue
  rows=$((rows + 1))
  IFS='|' read -r _ c_limit c_where c_default _c_bites c_test _ <<<"$line"
  # --- the tests ---
  if [[ $c_test =~ ^[[:space:]]*none ]]; then
    untested=$((untested + 1))
  else
    file="" named=0
    for tok in $(grep -oE '`[^`]+`' <<<"$c_test" | tr -d '`'); do
      if [[ $tok == tests/* ]]; then
        file=$tok
        [[ -f $src/$file ]] || fail "no file $file"
      elif [[ $tok =~ ^([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)$ ]]; then
        named=$((named + 1))
        suite=${BASH_REMATCH[1]} name=${BASH_REMATCH[2]}
        if [[ -z $file ]]; then
          fail "test $tok names no file before it"
        elif ! grep -qE "^TEST(_F|_P)?\(${suite}, ${name}\)" "$src/$file"; then
          fail "no TEST*(${suite}, ${name}) in $file (row:$c_limit)"
        else
          tests=$((tests + 1))
        fi
      fi
    done
    ((named > 0)) || fail "row '$c_limit' names no test (write one, or say 'none: why')"
  fi
  # --- the default ---
  want=$(first_number "$(sed -E 's/^[[:space:]]*//' <<<"$c_default")")
  [[ -n $want ]] || continue
  if [[ $c_where =~ \`(ticketctl [a-z]+ )?(--[a-z0-9-]+)\` ]]; then
    prog=ticketd
    [[ -n ${BASH_REMATCH[1]} ]] && prog=$(sed -E 's/ $//' <<<"${BASH_REMATCH[1]}")
    flag=${BASH_REMATCH[2]}
    got=$(flag_default "$(help_of "$prog")" "$flag")
    if [[ -z $got ]]; then
      fail "$prog --help shows no default for $flag"
    elif [[ $(first_number "$got") != "$want" ]]; then
      fail "$flag: the table says $want, $prog --help says =$got"
    else
      flags=$((flags + 1))
    fi
  elif [[ $c_where =~ \`([A-Za-z_][A-Za-z0-9_]*)\`\ \(\`([^\`]+)\`\) ]]; then
    name=${BASH_REMATCH[1]} file=${BASH_REMATCH[2]}
    if ! got=$(constant_value "$name" "$file"); then
      fail "no definition '$name = <number>' in $file"
    elif [[ $got != "$want" ]]; then
      fail "$name: the table says $want, $file says $got"
    else
      constants=$((constants + 1))
    fi
  fi
done <"$table"

echo "LIMITS.md: $rows rows; $tests tests found, $flags flag defaults and $constants constants" \
  "match the code; $untested rows without a test (each says why)"
((rows >= 40)) || { echo "LIMITS.md: only $rows rows: is the table still there?" >&2; exit 1; }
((failures == 0)) || { echo "LIMITS.md: $failures problems" >&2; exit 1; }
