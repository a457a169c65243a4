package dev.headsweep.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweep;
import dev.headsweep.checkpoint.Checkpoint;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.engine.HeadId;
import dev.headsweep.engine.cpu.TopKAgreement;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.reference.PlainReference;
import dev.headsweep.reference.RandomCheckpoints;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole vocabulary as one-token prompts on the CPU, on a checkpoint small enough for a test
 * (1 layer, 2 heads, d 32, GPT-2's 50,257 tokens): 50,257 keywords per head, progress reported for
 * block 0 and the heads, and a sample of rows against the plain reference.
 */
class VocabSweepTest {
    @TempDir
    Path dir;

    @Test
    void everyTokenIsAKeywordAndSampledRowsMatchTheReference() {
        RandomCheckpoints.write(dir, 1, 2, 32, 99, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        Map<String, Long> last = new ConcurrentHashMap<>();
        SweepResult r = Sweep.of(w, HeadSweep.task("vocab")).relations("copy", "next", "prev")
                .progress((stage, done, total) -> last.merge(stage, done, Math::max)).run();
        assertEquals(50257, r.keywords().size());
        assertEquals(50257L, last.get("block 0"));
        assertEquals(2L, last.get("heads"));
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            PlainReference ref = new PlainReference(ckpt);
            for (int t = 0; t < 50257; t += 4999) {
                float[] x = ref.block0(new int[] {t})[0];
                for (HeadId h : r.heads()) {
                    float[] logits = ref.logits(h.layer(), h.head(), x);
                    String why = TopKAgreement.check(logits, logits.length, 0, r.k(), r.topIds(h, t),
                            r.topLogits(h, t), 2e-5);
                    assertNull(why, "token " + t + " head " + h + ": " + why);
                }
            }
        }
        for (HeadId h : r.heads()) {
            double copy = r.score(h, "copy");
            assertTrue(copy >= 0 && copy <= 100);
        }
        // the scores alone (the CPU's targets' rank test): hit for hit those of the whole top-k
        SweepResult ranked = Sweep.of(w, HeadSweep.task("vocab")).relations("copy", "next", "prev")
                .keepTopK(false).run();
        for (String rel : r.relations()) {
            for (HeadId h : r.heads()) {
                for (int t = 0; t < 50257; t++) {
                    if (r.hit(h, rel, t) != ranked.hit(h, rel, t)) {
                        throw new AssertionError(rel + " at head " + h + " token " + t + ": " + r.hit(h, rel, t)
                                + " in the whole top-k, " + ranked.hit(h, rel, t) + " by the rank test");
                    }
                }
            }
        }
    }
}
