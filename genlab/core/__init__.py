"""The ground: config sections, parsing, the family registry, paths, errors, built-in assets. Torch-free where it can be."""
