"""One test per kind of `thesis-recon import-weights` (issue 33.6), as timm runs every registered model.

The kinds come from the registry itself (`weights.KINDS`), so a kind added there is tested here without editing the
parametrisation: it fails until it has a stand-in below. A stand-in is the original's file in the original's container,
its tensors random values with the keys, shapes and dtypes of the original's manifest (`tests/originals/*.json`, built
by running the originals' constructors; `weights.manifest_state_dict`, and `svr.convert.manifest_tf_checkpoint` for
the TensorFlow checkpoints). Each imports through `import_weights`, loads through `load_imported`, has the manifest's
parameter count and runs a forward pass on a tiny input with the shape the kind's users rely on. The family convert
notebooks (47, 55, 68, 75, 85) check the values themselves (outputs against the network loaded directly, every
tensor); this file checks that every kind keeps working end to end.

`python -m pytest tests/test_weight_kinds.py --flags slow` also runs the kinds marked slow (over ~20 s here).
"""
import json, math
from pathlib import Path
from typing import Callable, NamedTuple
import pytest
from thesis_recon.weights import KINDS, TF_KINDS, import_weights, load_imported, manifest_param_count, manifest_state_dict

# Keras 3 on NumPy 2 warns inside its own array conversion, once per weight (not ours to fix)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

ORIGINALS = Path(__file__).parent/'originals'
SLOW = {'svr-scene'}      # the tree network: 106 M values in a TF checkpoint, a 512 x 512 image through it

def manifest(name: str) -> Path: return ORIGINALS/f'{name}.json'

class Target(NamedTuple):
    "One imported file or folder to load and check."
    path: Path                      # what `load_imported` is given
    params: int                     # learnable values the loaded model must have (the manifest's)
    forward: Callable               # (model, config) -> output shape on a tiny input
    shape: tuple                    # the expected output shape
    counted: Callable = lambda m: m # the part of the model whose parameters the manifest lists

class StandIn(NamedTuple):
    "The original's file(s) of one case of a kind, the import's options, and what to check after it."
    src: Path
    out: Path
    targets: list
    options: dict = {}

STANDINS = {}     # kind -> function(tmp folder) -> [StandIn, ...]

def standin(kind: str):
    def register(make):
        STANDINS[kind] = make
        return make
    return register

def torch_params(model) -> int: return sum(p.numel() for p in model.parameters())

def save(obj, path: Path) -> Path:
    import torch
    torch.save(obj, path)
    return path

OPTIMIZER = {'state': {}, 'param_groups': [{'lr': 1e-3, 'params': [0, 1]}]}

# ---- seg2d: (1, 3, H, W) images -> (1, classes, H', W') logits
def image_forward(h=64, w=96):
    def run(model, config):
        import torch
        with torch.no_grad(): return tuple(model(torch.randn(1, 3, h, w)).shape)
    return run

def seg2d_case(tmp, name, kind_file, container, shape, **kw):
    src = save(container(manifest_state_dict(manifest(name))), tmp/kind_file)
    return StandIn(src, tmp/'out.tar', [Target(tmp/'out.tar', manifest_param_count(manifest(name)), image_forward(*kw.get('hw', (64, 96))), shape)])

@standin('thesis-enet')
def _(tmp):   # the thesis's BaseTrainer checkpoint; the encoder-only ENet gives 1/8 of the image
    return [seg2d_case(tmp, 'thesis_enet', 'model_best.pth.tar',
                       lambda sd: {'epoch': 7, 'state_dict': sd, 'best_miou': 0.5, 'optimizer': OPTIMIZER}, (1, 41, 8, 12))]

@standin('3dmv-enet')
def _(tmp):   # 3DMV saves the bare state dict
    return [seg2d_case(tmp, '3dmv_enet', 'model-epoch-9.pth', lambda sd: sd, (1, 41, 8, 12))]

@standin('davidtvs-enet')
def _(tmp):   # PyTorch-ENet's checkpoint; the encoder-decoder ENet gives the image's size
    return [seg2d_case(tmp, 'davidtvs_enet', 'ENet',
                       lambda sd: {'epoch': 80, 'miou': 0.6, 'state_dict': sd, 'optimizer': OPTIMIZER}, (1, 41, 64, 96))]

@standin('thesis-deeplabv3')
def _(tmp):
    return [seg2d_case(tmp, 'thesis_deeplabv3', 'deeplab_best.pth.tar',
                       lambda sd: {'epoch': 30, 'state_dict': sd, 'best_miou': 0.6, 'optimizer': OPTIMIZER}, (1, 41, 64, 64), hw=(64, 64))]

@standin('torchvision-deeplabv3')
def _(tmp):
    # torchvision's COCO file is a bare state dict: the backbone is the thesis's (its manifest, `dlv3.` dropped); of
    # the COCO head and auxiliary head only their last layers are written (the converter reads `classifier.4.weight`
    # and sets every head key aside; 47_seg2d_convert writes the whole head). Ours: the backbone + a new 41-class head.
    import torch
    sd = {k[5:]: v for k, v in manifest_state_dict(manifest('thesis_deeplabv3')).items() if k.startswith('dlv3.backbone.')}
    for head, c in (('classifier.4', 256), ('aux_classifier.4', 256)):
        sd[f'{head}.weight'], sd[f'{head}.bias'] = torch.randn(21, c, 1, 1), torch.randn(21)
    src = save(sd, tmp/'deeplabv3_resnet50_coco-cd0a2569.pth')
    return [StandIn(src, tmp/'out.tar', [Target(tmp/'out.tar', manifest_param_count(manifest('thesis_deeplabv3')),
                                                image_forward(64, 64), (1, 41, 64, 64))])]

# ---- nets3d: (B, C, X, Y, Z) back-projected volumes -> (B, classes, X, Y, Z)
@standin('thesis-surfacenet')
def _(tmp):   # reconstruction from RGB (15 = 5 views x 3) or 2D features (640), and the 41-class segmentation head
    def volume(cin):
        def run(model, config):
            import torch
            with torch.no_grad(): return tuple(model(torch.randn(1, cin, 8, 8, 16)).shape)
        return run
    cases = []
    for name, cin, k in (('thesis_surfacenet_rgb', 15, 2), ('thesis_surfacenet_feat', 640, 2), ('thesis_surfacenet_seg', 640, 41)):
        sd = manifest_state_dict(manifest(name))
        src = save({'epoch': 7, 'count': 1244, 'count_val': 10, 'state_dict': sd, 'best_loss': 0.1, 'optimizer': OPTIMIZER}, tmp/f'{name}.pth.tar')
        cases.append(StandIn(src, tmp/f'{name}.tar', [Target(tmp/f'{name}.tar', manifest_param_count(manifest(name)), volume(cin), (1, k, 8, 8, 16))]))
    return cases

# ---- srn: a view of a scene (instance 0, a pose, intrinsics) rendered at side x side -> per-pixel outputs
def render_view(side: int, key: str):
    def run(model, config):
        import torch
        pose = torch.tensor([[1., 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 1.5], [0, 0, 0, 1]])[None]
        K = torch.tensor([[side * 1.5, 0, side / 2], [0, side * 1.5, side / 2], [0, 0, 1]])[None]
        batch = dict(instance_idx=torch.zeros(1, dtype=torch.int64), pose=pose, intrinsics=K, rgb=torch.zeros(1, side * side, 3))
        with torch.no_grad(): return tuple(model(batch)[key].shape)
    return run

def tie_aliases(sd: dict, out_layer: str) -> tuple[dict, int]:
    """apsk14's files hold each U-Net weight twice (a module and its alias, the same tensor); the stand-in copies each
    twin's values onto its alias, as 75_srn_convert does. Returns the state dict and the values held twice."""
    twice = 0
    for k in list(sd):
        stem, leaf = k.rsplit('.', 1)
        twin = out_layer if k.endswith('out_layer_weight') else f'{stem}.net.1.{leaf}'
        if twin in sd and twin != k: sd[k] = sd[twin]; twice += sd[k].numel()
    return sd, twice

def semantic_srn_file(tmp) -> tuple[Path, int]:
    sd, twice = tie_aliases(manifest_state_dict(manifest('semsrn_srnsmodel')), 'class_generator.out_layer.0.net.1.weight')
    return save({'model': sd, 'optimizer_0': {'state': {}, 'param_groups': []}}, tmp/'semantic_srn.pth'), twice

@standin('srn')
def _(tmp):   # vsitzmann's custom_save: {'model', 'optimizer'}; 51.9 M values, two latent codes
    src = save({'model': manifest_state_dict(manifest('srn_srnsmodel')), 'optimizer': OPTIMIZER}, tmp/'srn.pth')
    return [StandIn(src, tmp/'out.tar', [Target(tmp/'out.tar', manifest_param_count(manifest('srn_srnsmodel')),
                                                render_view(8, 'rgb'), (1, 64, 3))])]

@standin('semantic-srn')
def _(tmp):   # the joint model: RGBA pixels and the U-Net's 6-class logits (the U-Net needs a side of 2^4)
    src, twice = semantic_srn_file(tmp)
    return [StandIn(src, tmp/'out.tar', [Target(tmp/'out.tar', manifest_param_count(manifest('semsrn_srnsmodel')) - twice,
                                                render_view(16, 'seg_logits'), (1, 256, 6))])]

@standin('semantic-srn-head')
def _(tmp):   # the few-shot heads (linear, MLP) on the joint SRN they were trained with (--srn)
    srn, _ = semantic_srn_file(tmp)
    cases = []
    for name in ('semsrn_linear', 'semsrn_mlp'):
        src = save({'model': manifest_state_dict(manifest(name)), 'optimizer_0': {}}, tmp/f'{name}.pth')
        cases.append(StandIn(src, tmp/f'{name}.tar', [Target(tmp/f'{name}.tar', manifest_param_count(manifest(name)),
                                                             render_view(8, 'seg_logits'), (1, 64, 6), counted=lambda m: m.head)],
                             {'srn': str(srn)}))
    return cases

@standin('semantic-srn-unet')
def _(tmp):   # the paper's 2D baseline on RGBA images: 7 halvings, so 128 x 128
    def segment(model, config):
        import torch
        with torch.no_grad(): return tuple(model(dict(rgb=torch.rand(1, 128 * 128, 4)))['seg_logits'].shape)
    sd, twice = tie_aliases(manifest_state_dict(manifest('semsrn_unet_baseline')), 'unet.out_layer.0.net.1.weight')
    src = save({'model': sd, 'optimizer_0': {'state': {}, 'param_groups': []}}, tmp/'unet.pth')
    return [StandIn(src, tmp/'out.tar', [Target(tmp/'out.tar', manifest_param_count(manifest('semsrn_unet_baseline')) - twice,
                                                segment, (1, 128 * 128, 6))])]

# ---- pcm: a point cloud (N, C) -> one value per cloud
def cloud_forward(channels: int):
    def run(model, config):
        import torch
        g = torch.Generator().manual_seed(0)
        x, b = torch.rand(300, channels, generator=g), torch.zeros(300, dtype=torch.int64)
        with torch.no_grad(): return tuple(model(x, b).shape)
    return run

@standin('leres')
def _(tmp):   # res50.pth: {depth_model, shift_model, focal_model}, 'module.' prefixed; ours: OUT/shift.tar, OUT/focal.tar
    module = lambda sd: {'module.' + k: v for k, v in sd.items()}
    depth = dict(list(manifest_state_dict(manifest('leres_depth_res50')).items())[:5])   # not read by the converter
    src = save({'depth_model': module(depth), 'shift_model': module(manifest_state_dict(manifest('leres_shift_pcm'))),
                'focal_model': module(manifest_state_dict(manifest('leres_focal_pcm')))}, tmp/'res50.pth')
    out = tmp/'leres'
    return [StandIn(src, out, [Target(out/'shift.tar', manifest_param_count(manifest('leres_shift_pcm')), cloud_forward(3), (1,)),
                               Target(out/'focal.tar', manifest_param_count(manifest('leres_focal_pcm')), cloud_forward(5), (1,))])]

@standin('train3d-pcm')
def _(tmp):   # Train-3D saves the bare state dict; 3 (shift) or 5 (focal) input channels
    return [StandIn(save(manifest_state_dict(manifest(name)), tmp/name), tmp/f'{name}.tar',
                    [Target(tmp/f'{name}.tar', manifest_param_count(manifest(name)), cloud_forward(c), (1,))])
            for name, c in (('train3d_pcm_in3', 3), ('train3d_pcm_in5', 5))]

# ---- svr: TF object-based checkpoints (a prefix with .index and .data-*), Keras networks at the original's sizes
def keras_param_count(path: Path) -> int:
    "The values of a Keras manifest's `model.weights` rows."
    return sum(math.prod(shape) for _, shape, _ in json.loads(path.read_text())['weights'])

def keras_params(model) -> int: return int(model.count_params())

def tf_checkpoint(tmp, name: str, prefix: str) -> Path:
    from thesis_recon.svr.convert import manifest_tf_checkpoint
    manifest_tf_checkpoint(manifest(name), tmp/prefix, scale=0.01)
    return tmp/prefix

def image_net_case(tmp, name, prefix, run, shape):
    src = tf_checkpoint(tmp, name, prefix)
    return [StandIn(src, tmp/'w', [Target(tmp/'w', keras_param_count(manifest(name)), run, shape, counted=keras_params)])]

@standin('svr-normals')
def _(tmp):
    # The normal U-Net: colour -> unit normals at the image's size. Loaded, it takes the original's 512 x 512 images
    # only (4.4 GB and 9 s of CPU for one); it is fully convolutional (the size is only in its layer names), so the
    # imported weights run in the same network built for 64 x 64.
    def run(model, config):
        import numpy as np
        from thesis_recon.svr.model import build_normal_unet
        small = build_normal_unet(config.normals, 64)
        small.set_weights(model.get_weights())      # in order; every shape checked
        return tuple(small(np.zeros((1, 64, 64, 3), np.float32)).shape)
    return image_net_case(tmp, 'svr_unet_normal', 'u_net_normal/checkpoint.ckpt', run, (1, 64, 64, 3))

@standin('svr-scene')
def _(tmp):   # the tree network: colour + normals (512 x 512) -> a 16^3 grid of 512-value latents, then the tree's own
    def run(model, config):
        import numpy as np
        return tuple(model(np.zeros((1, 512, 512, 6), np.float32)).shape)
    return image_net_case(tmp, 'svr_tree_model', 'scene_reconstruction/checkpoint.ckpt', run, (1, 16, 16, 16, 1024))

@standin('svr-decoder')
def _(tmp):   # the implicit TSDF decoder, with the original's empty/filled latents beside its checkpoint
    import h5py, numpy as np
    from thesis_recon.svr.convert import LATENTS_FILE
    src = tf_checkpoint(tmp, 'svr_implicit_decoder', 'implicit_tsdf_decoder/cp-0000.ckpt')
    rng = np.random.default_rng(0)
    with h5py.File(src.parent/LATENTS_FILE, 'w') as f:
        f['empty_latent_vec'], f['filled_latent_vec'] = rng.normal(size=(2, 512)).astype(np.float32)
    def decode(decoder, config):   # 5 points and their latents -> (TSDF (5,), class probabilities (5, 10))
        tsdf, probs = decoder(rng.uniform(-1, 1, (5, 3)).astype(np.float32), rng.normal(size=(5, 512)).astype(np.float32))
        return tsdf.shape, probs.shape
    return [StandIn(src, tmp/'w', [Target(tmp/'w', keras_param_count(manifest('svr_implicit_decoder')), decode, ((5,), (5, 10)),
                                          counted=lambda d: keras_params(d.model))])]

@pytest.mark.parametrize('kind', list(KINDS))
def test_kind(kind, tmp_path, request):
    if kind in SLOW and 'slow' not in request.config.getoption('--flags').split(): pytest.skip('slow: run with --flags slow')
    if kind in TF_KINDS: pytest.importorskip('tensorflow', reason=f'{kind} reads a TensorFlow checkpoint (pip install "thesis-recon[svr]")')
    assert kind in STANDINS, f"import-weights kind {kind!r} has no stand-in in tests/test_weight_kinds.py: add one (@standin)"
    for case in STANDINS[kind](tmp_path):
        written = import_weights(kind, case.src, case.out, **case.options)
        assert written and all(p.exists() for p in written), written
        for t in case.targets:
            model, config = load_imported(t.path)
            assert not getattr(model, 'training', False), f'{t.path}: not loaded in eval mode'
            counted = t.counted(model)
            got = counted if isinstance(counted, int) else torch_params(counted)
            assert got == t.params, f'{t.path}: {got:,} parameters, the manifest has {t.params:,}'
            out = t.forward(model, config)
            assert out == t.shape, f'{t.path}: output of shape {out}, expected {t.shape}'
