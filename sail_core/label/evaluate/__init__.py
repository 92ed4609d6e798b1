"""Label evaluation on held-out slices: the contrastive ranking test and detection scoring."""
