"""Run every peer counter on the PyTorch builders of archspec zoo specs; print JSON lines.

Not run by the tests: it needs torch, torchvision and the peers (see peers_measured.json's "about").
"""
import json, sys, io, contextlib, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.CRITICAL)
import torch, torch.nn as nn, torchvision.models as M
import thop, torchinfo
torch.backends.mha.set_fastpath_enabled(False)
from fvcore.nn import FlopCountAnalysis
from torch.utils.flop_counter import FlopCounterMode

def unet():
    class DC(nn.Sequential):
        def __init__(s, i, o): super().__init__(nn.Conv2d(i,o,3), nn.ReLU(), nn.Conv2d(o,o,3), nn.ReLU())
    class UNet(nn.Module):
        def __init__(s):
            super().__init__(); c=[64,128,256,512,1024]
            s.enc=nn.ModuleList([DC(1,64)]+[DC(c[i],c[i+1]) for i in range(4)])
            s.up=nn.ModuleList([nn.ConvTranspose2d(c[i+1],c[i],2,2) for i in reversed(range(4))])
            s.dec=nn.ModuleList([DC(c[i+1],c[i]) for i in reversed(range(4))])
            s.head=nn.Conv2d(64,2,1)
        def forward(s,x):
            skips=[]
            for i,e in enumerate(s.enc):
                if i: x=nn.functional.max_pool2d(x,2)
                x=e(x); skips.append(x)
            skips.pop()
            for u,d in zip(s.up,s.dec):
                x=u(x); sk=skips.pop(); dh=(sk.shape[2]-x.shape[2])//2; dw=(sk.shape[3]-x.shape[3])//2
                sk=sk[:,:,dh:dh+x.shape[2],dw:dw+x.shape[3]]
                x=d(torch.cat([sk,x],1))
            return s.head(x)
    return UNet()

class GRUClassifier(nn.Module):
    def __init__(s):
        super().__init__(); s.gru=nn.GRU(128,256,num_layers=2,bidirectional=True); s.classifier=nn.Linear(512,10)
    def forward(s,x):
        y,_=s.gru(x); return s.classifier(y[-1])

class LSTMOut(nn.Module):
    def __init__(s): super().__init__(); s.lstm=nn.LSTM(128,256,num_layers=2,batch_first=True)
    def forward(s,x): return s.lstm(x)[0]

def dcgan():
    return nn.Sequential(nn.ConvTranspose2d(100, 64*8, 4, 1, 0, bias=False), nn.BatchNorm2d(64*8), nn.ReLU(True), nn.ConvTranspose2d(64*8, 64*4, 4, 2, 1, bias=False), nn.BatchNorm2d(64*4), nn.ReLU(True), nn.ConvTranspose2d(64*4, 64*2, 4, 2, 1, bias=False), nn.BatchNorm2d(64*2), nn.ReLU(True), nn.ConvTranspose2d(64*2, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True), nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False), nn.Tanh())

class TEL(nn.Module):
    def __init__(s):
        super().__init__(); s.layer=nn.TransformerEncoderLayer(d_model=512, nhead=8, dim_feedforward=2048, batch_first=True, dropout=0.0)
    def forward(s,x): return s.layer(x)

BUILDERS = {
    "seed_mnist": (lambda: nn.Sequential(nn.Conv2d(1,5,3), nn.ReLU(), nn.Conv2d(5,5,3), nn.ReLU(), nn.Flatten(), nn.Linear(24*24*5,128), nn.ReLU(), nn.Linear(128,10)), [1,1,28,28]),
    "seed_conv3x3": (lambda: nn.Conv2d(64,128,3,padding=1), [1,64,112,112]),
    "lenet5": (lambda: nn.Sequential(nn.Conv2d(1,6,5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6,16,5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400,120), nn.Tanh(), nn.Linear(120,84), nn.Tanh(), nn.Linear(84,10)), [1,1,32,32]),
    "dcgan_generator": (dcgan, [1,100,1,1]),
    "unet": (unet, [1,1,572,572]),
    "lstm_2layer": (LSTMOut, [1,50,128]),
    "gru_bidirectional": (GRUClassifier, [50,1,128]),
    "transformer_encoder_layer": (TEL, [1,128,512]),
}
for n in ["alexnet","vgg16","vgg16_bn","resnet18","resnet50","resnext50_32x4d","wide_resnet50_2","mobilenet_v2","mobilenet_v3_large","efficientnet_b0","densenet121","squeezenet1_1","googlenet","shufflenet_v2_x1_0","convnext_tiny","vit_b_16"]:
    kw = {"aux_logits": False, "init_weights": False} if n == "googlenet" else {}
    BUILDERS[n] = ((lambda n=n, kw=kw: getattr(M, n)(weights=None, **kw)), [1,3,224,224])

def quiet(fn):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn()

def run(name):
    build, shape = BUILDERS[name]
    torch.manual_seed(0)
    m = build().eval()
    x = torch.randn(*shape)
    r = {"model": name, "input_shape": shape, "params": sum(p.numel() for p in m.parameters())}
    r["thop_macs"] = int(quiet(lambda: thop.profile(m, inputs=(x,), verbose=False))[0])
    from ptflops import get_model_complexity_info
    for backend in ("pytorch", "aten"):
        mac, _ = quiet(lambda: get_model_complexity_info(m, tuple(shape[1:]), as_strings=False, print_per_layer_stat=False, backend=backend, input_constructor=lambda res: x))
        r[f"ptflops_macs_{backend}"] = None if mac is None else int(mac)
    try:
        fca = FlopCountAnalysis(m, x); fca.unsupported_ops_warnings(False); fca.uncalled_modules_warnings(False)
        r["fvcore_flops"] = int(quiet(fca.total))
    except Exception as e:
        r["fvcore_flops"] = f"error: {type(e).__name__}"
    s = quiet(lambda: torchinfo.summary(m, input_data=x, verbose=0))
    r["torchinfo_mult_adds"] = int(s.total_mult_adds)
    with FlopCounterMode(display=False) as f:
        with torch.no_grad(): m(x)
    r["flopcounter_flops"] = int(f.get_total_flops())
    with FlopCounterMode(display=False) as f:
        out = m(x); out = out[0] if isinstance(out, tuple) else out; out.sum().backward()
    r["flopcounter_fwd_bwd_flops"] = int(f.get_total_flops())
    try:
        from calflops import calculate_flops
        fl, mc, _ = quiet(lambda: calculate_flops(model=m, args=[x], output_as_string=False, print_results=False, print_detailed=False))
        r["calflops_flops"], r["calflops_macs"] = int(fl), int(mc)
    except Exception as e:
        r["calflops_flops"] = f"error: {type(e).__name__}: {e}"
    return r

if __name__ == "__main__":
    names = sys.argv[1:] or list(BUILDERS)
    for n in names:
        try:
            print(json.dumps(run(n)), flush=True)
        except Exception as e:
            print(json.dumps({"model": n, "error": repr(e)}), flush=True)
