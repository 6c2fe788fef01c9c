"""Run the DeepSpeed flops profiler on the builders of measure_peers.py; print JSON lines (torch + deepspeed needed; not run by the tests)."""
import json, sys, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.CRITICAL)

import torch
torch.backends.mha.set_fastpath_enabled(False)
from measure_peers import BUILDERS, quiet
from deepspeed.profiling.flops_profiler import get_model_profile
import deepspeed
for n in (sys.argv[1:] or list(BUILDERS)):
    build, shape = BUILDERS[n]
    torch.manual_seed(0); m = build().eval(); x = torch.randn(*shape)
    try:
        fl, mc, _ = quiet(lambda: get_model_profile(model=m, args=[x], print_profile=False, as_string=False, warm_up=0))
        print(json.dumps({"model": n, "deepspeed_flops": int(fl), "deepspeed_macs": int(mc), "deepspeed": deepspeed.__version__}), flush=True)
    except Exception as e:
        print(json.dumps({"model": n, "error": repr(e)}), flush=True)
