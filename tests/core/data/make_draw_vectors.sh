#!/usr/bin/env bash
# Regenerates draw_vectors.txt with the openssl CLI: an implementation of the
# draw (DESIGN.md, engine/draw.h) independent of ours.
# Columns: seed_hex campaign position user value_hex threshold_bps under(0/1)
set -euo pipefail
cd "$(dirname "$0")"
seeds=(000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
       $(printf 'ticketledger' | openssl dgst -sha256 -r | cut -d' ' -f1))
campaigns=(c1 summer-drop.2026)
users=(alice "bob|pipe" "Zoë" "ユーザー" user-0000042)
bps=(0 1 500 9999 10000)
{
  for seed in "${seeds[@]}"; do
    for c in "${campaigns[@]}"; do
      for pos in 1 2 42 1000000; do
        for u in "${users[@]}"; do
          mac=$(printf '%s' "ticketledger/draw/v1|$c|$pos|$u" |
                openssl dgst -sha256 -mac HMAC -macopt "hexkey:$seed" -r | cut -d' ' -f1)
          v=${mac:0:16}
          b=${bps[$(( (pos + ${#u}) % 5 ))]}
          # under = v < floor(b * 2^64 / 10000), in bc's arbitrary precision.
          under=$(echo "ibase=16; v=$(echo "$v" | tr a-f A-F); ibase=A; t=($b * 2^64) / 10000; v < t" | bc)
          printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$seed" "$c" "$pos" "$u" "$v" "$b" "$under"
        done
      done
    done
  done
} > draw_vectors.txt
echo "wrote $(wc -l < draw_vectors.txt) vectors"
