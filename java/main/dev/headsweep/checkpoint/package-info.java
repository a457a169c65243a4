/**
 * Reading (and, for tests and conversions, writing) GPT-2 checkpoints in the Hugging Face layout:
 * {@code config.json} next to {@code model.safetensors} or a sharded
 * {@code model.safetensors.index.json}.
 *
 * <p>{@link dev.headsweep.checkpoint.Checkpoint} is the entry point for the engine. Everything read
 * from disk is validated on open, and every problem is reported as a one-line
 * {@link dev.headsweep.HeadSweepException} that starts with the offending file's path. Pickle
 * checkpoints ({@code pytorch_model.bin}) are refused: loading them can run arbitrary code.
 */
package dev.headsweep.checkpoint;
