#!/usr/bin/env bash
# Run one shard of a command per GPU, side by side, and fail naming every shard that failed:
#   scripts/shards.sh "0 1" metaex study run CONFIG --out DIR --stage train
# runs `CUDA_VISIBLE_DEVICES=G CMD --shard I/N` for the I-th of the N GPUs listed, waits for each shard (a failed
# one does not stop the others: their finished steps are kept for the rerun) and exits 1 if any failed, with one
# line per failed shard. Ctrl-C or a TERM stops every shard.
set -uo pipefail
gpus=($1); shift
n=${#gpus[@]}
[ "$n" -gt 0 ] && [ $# -gt 0 ] || { echo "usage: $0 \"GPU...\" COMMAND..." >&2; exit 2; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait; exit 130' INT TERM
for i in "${!gpus[@]}"; do
  CUDA_VISIBLE_DEVICES=${gpus[$i]} "$@" --shard "$i/$n" &
  pids+=($!)
done
failed=0
for i in "${!gpus[@]}"; do
  wait "${pids[$i]}"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "shards: shard $i/$n (GPU ${gpus[$i]}) failed with exit $rc: $* --shard $i/$n" >&2
    failed=$((failed + 1))
  fi
done
[ "$failed" -eq 0 ] || { echo "shards: $failed of $n shards failed; rerun to resume (finished steps are kept)" >&2; exit 1; }
