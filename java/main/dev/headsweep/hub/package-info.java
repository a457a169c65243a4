/**
 * Models by name, the way {@code from_pretrained("gpt2")} finds them: {@link
 * dev.headsweep.hub.ModelLocator#locate} turns {@code --model gpt2} (or {@code org/name@revision})
 * into a snapshot folder of the standard Hugging Face hub cache, shared with {@code transformers}
 * in both directions, downloading what is missing with resume, checksum verification and atomic
 * placement. An existing path is used as it is.
 *
 * <p>{@link dev.headsweep.hub.ModelName} parses names, {@link dev.headsweep.hub.HubSettings} reads
 * the environment ({@code HF_HUB_CACHE}, {@code HF_HOME}, {@code HF_ENDPOINT}, {@code HF_TOKEN},
 * {@code HF_HUB_OFFLINE}), {@link dev.headsweep.hub.HubCache} is the cache layout, and
 * {@code HubClient} the hub's HTTP protocol. Every problem is a one-line
 * {@link dev.headsweep.HeadSweepException}.
 */
package dev.headsweep.hub;
