"""The app layer behind the `microtensor` command: data loading, training with progress,
pictures, the demo. The only part of microtensor that imports nn."""
