"""Point-cloud module: recover the shift of a depth map and the focal length of its camera (LeReS PCM, pure PyTorch)."""
