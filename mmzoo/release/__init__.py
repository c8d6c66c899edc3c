"""Releasing weights: exporting a trained run into ``weights/``, model cards, publishing to the Hugging Face Hub.

May import every layer below it (data, models, registry, pretrained, train); nothing below imports it.
Its modules are imported on use, so ``import mmzoo`` does not load them.
"""
