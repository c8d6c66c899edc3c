"""torch.hub entry points: one per registered architecture, generated from mmzoo's registry.

    model = torch.hub.load("path/to/mmzoo", "intermediate_cat", source="local", pretrained=True)
    torch.hub.list("<github-owner>/mmzoo")                 # every registered architecture (GitHub repos)

Each entry point is ``mmzoo.create(name, pretrained=pretrained, **kwargs)``, so it takes the same keyword
arguments (``num_outputs=``, ``rgb_channels=``...) and verifies the weights' sha256 as ``create`` does.
"""
# Only entry points are public here: torch.hub.list shows every public callable of this module.
# torch.hub checks that these import before loading an entry point (mmzoo's install_requires that models need).
dependencies = ["torch", "torchvision", "timm", "safetensors", "huggingface_hub", "numpy"]

import mmzoo as _mmzoo  # noqa: E402  (torch.hub puts this folder first on sys.path, so this is the checkout)


def _entrypoint(name: str):
    def entrypoint(pretrained: bool = False, **kwargs):
        return _mmzoo.create(name, pretrained=pretrained, **kwargs)

    info = _mmzoo.model_info(name)
    weight = _mmzoo.get_weights(name)
    weights = f"pretrained=True loads {weight.name}" if weight else "no pretrained weights yet"
    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__doc__ = (f"{name}: {info.fusion_point} fusion ({info.fusion_op}), {info.task}; "
                          f"{info.num_params:,} parameters; {weights}. Inputs: {info.input_spec.describe()}.")
    return entrypoint


globals().update({_name: _entrypoint(_name) for _name in _mmzoo.list_models()})
