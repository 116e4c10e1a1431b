"""The shipped pretrained models and their card, installed as the data package `digits_models`."""
