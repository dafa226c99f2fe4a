"""2D semantic segmentation: the data set, ENet, DeepLabv3, and their training, testing and prediction."""
