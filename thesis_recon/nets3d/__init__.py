"""3D networks on back-projected 2D features: SurfaceNet, the 2D-to-3D model, training, scene inference and its evaluation."""
