"""Stage D: training data from successful trajectories, and LoRA/QLoRA fine-tuning with trl."""
