"""The data oracles, the model's ground truth of file and memory contents (no kernel counterpart);
kernel-tree code never imports them.
"""
