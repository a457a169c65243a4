package dev.headsweep.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.headsweep.HeadSweep;
import dev.headsweep.checkpoint.Checkpoint;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.checkpoint.GptConfig;
import dev.headsweep.checkpoint.NamedTensor;
import dev.headsweep.checkpoint.SafetensorsWriter;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.Progress;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.reference.RandomCheckpoints;
import dev.headsweep.score.Sweep;
import dev.headsweep.score.SweepResult;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One set of weights, every value exactly representable in BF16, stored four ways: F32 in one file
 * (a folder), F32 in three shards with the {@code transformer.} prefix (by name from a hub cache),
 * BF16 in one file (the .safetensors path itself) and BF16 in shards. All are computed in fp32
 * from the same values, so every score and every top-k token and logit must be identical.
 */
class FormatsTest {
    @TempDir
    Path work;

    @Test
    void f32ShardedAndBf16EncodingsScoreIdentically() {
        GptConfig cfg = RandomCheckpoints.config(2, 2, 128);
        List<NamedTensor> tensors = RandomCheckpoints.tensors(cfg, 21).stream()
                .map(t -> new NamedTensor(t.name(), t.shape(), bf16(t.data()))).toList();

        Path cache = work.resolve("hub");
        Map<String, String> sources = new LinkedHashMap<>();
        SafetensorsWriter.writeCheckpoint(work.resolve("f32"), cfg, tensors, Dtype.F32, "");
        sources.put("F32", work.resolve("f32").toString());
        TestModels.placeInCache(TestModels.sharded(work.resolve("f32-sharded"), cfg, tensors, Dtype.F32, "transformer.", 3),
                cache, "org/f32-sharded", "1111111111111111111111111111111111111111");
        sources.put("F32 sharded", "org/f32-sharded");
        SafetensorsWriter.writeCheckpoint(work.resolve("bf16"), cfg, tensors, Dtype.BF16, "");
        sources.put("BF16", work.resolve("bf16").resolve("model.safetensors").toString());
        TestModels.sharded(work.resolve("bf16-sharded"), cfg, tensors, Dtype.BF16, "", 2);
        sources.put("BF16 sharded", work.resolve("bf16-sharded").toString());

        ModelLocator locator = new ModelLocator(HubSettings.of(Map.of("HF_HUB_CACHE", cache.toString(),
                "HF_HUB_OFFLINE", "1"), work));
        SweepResult reference = null;
        for (var source : sources.entrySet()) {
            Path path = locator.find(source.getValue(), Progress.NONE);
            Gpt2Weights w;
            try (Checkpoint c = Checkpoint.open(path)) {
                assertEquals(source.getKey().startsWith("BF16") ? Dtype.BF16 : Dtype.F32, c.dtype(), source.getKey());
                w = Gpt2Weights.load(c);
            }
            SweepResult r = Sweep.of(w, HeadSweep.task("numerals")).relations("copy", "next", "prev").run();
            if (reference == null) {
                reference = r;
                continue;
            }
            assertEquals(4, r.heads().size());
            for (HeadId h : r.heads()) {
                for (String rel : r.relations()) {
                    assertEquals(reference.score(h, rel), r.score(h, rel), source.getKey() + " " + h + " " + rel);
                }
                for (int kw = 0; kw < r.keywords().size(); kw++) {
                    assertArrayEquals(reference.topIds(h, kw), r.topIds(h, kw), source.getKey() + " " + h + " #" + kw);
                    assertArrayEquals(reference.topLogits(h, kw), r.topLogits(h, kw), source.getKey() + " " + h + " #" + kw);
                }
            }
        }
    }

    private static float[] bf16(float[] data) {
        float[] out = new float[data.length];
        for (int i = 0; i < data.length; i++) {
            out[i] = Dtype.BF16.round(data[i]);
        }
        return out;
    }
}
