package dev.headsweep.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweep;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.model.Gpt2Weights;
import dev.headsweep.reference.RandomCheckpoints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link Block0#residual} computes the layers after the attention on the wanted rows alone; its
 * rows must be those of {@link Block0#forward} (every position) bit for bit, with the Vector API
 * (this JVM, as the tests run) and without it (a child JVM, since the choice is fixed per JVM).
 */
class Block0ResidualTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} heads, d {1}, seed {2}")
    @CsvSource({"2, 32, 1", "3, 36, 2", "2, 128, 3", "1, 8, 4"})
    void wantedRowsEqualForwardBitForBit(int heads, int d, long seed) {
        RandomCheckpoints.write(dir, 1, heads, d, seed, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        assertEquals("", Check.mismatches(w, seed));
    }

    @ParameterizedTest(name = "Vector API {0}")
    @CsvSource({"false", "true"})
    void wantedRowsEqualForwardInAChildJvm(boolean vector) throws Exception {
        RandomCheckpoints.write(dir, 1, 3, 36, 5, Dtype.F32, "");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--add-modules=jdk.incubator.vector");
        cmd.add("-Dheadsweep.vector=" + vector);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Check.class.getName());
        cmd.add(dir.toString());
        cmd.add("5");
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(proc.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, proc.exitValue(), out);
        assertTrue(out.contains("vector=" + vector + " mismatches=none"), out);
    }

    @Test
    void positionsOutsideThePromptAreRefused() {
        RandomCheckpoints.write(dir, 1, 2, 8, 6, Dtype.F32, "");
        Gpt2Weights w = HeadSweep.load(dir);
        int[][] prompts = {{1, 2, 3}, {4}};
        assertThrows(IllegalArgumentException.class, () -> Block0.residual(w, prompts, new int[][] {{0}, {1}}));
        assertThrows(IllegalArgumentException.class, () -> Block0.residual(w, prompts, new int[][] {{-1}, {0}}));
        assertThrows(IllegalArgumentException.class, () -> Block0.residual(w, prompts, new int[][] {{0}}));
    }

    /** The comparison itself; {@code main} runs it in a child JVM: {@code main(checkpointDir, seed)}. */
    public static final class Check {
        private Check() {
        }

        public static void main(String[] args) {
            Gpt2Weights w = HeadSweep.load(Path.of(args[0]));
            String m = mismatches(w, Long.parseLong(args[1]));
            System.out.println("vector=" + VectorApi.ENABLED + " mismatches=" + (m.isEmpty() ? "none" : m));
        }

        /** Empty when every case matches; else the first mismatch of each failing case. */
        static String mismatches(Gpt2Weights w, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            int maxLen = w.config().nPositions();
            StringBuilder out = new StringBuilder();

            // many prompts (several chunks), 0..5 positions each: unordered, repeated, 0 and the last
            int[][] prompts = randomPrompts(r, 80, 1, maxLen);
            int[][] positions = new int[prompts.length][];
            for (int p = 0; p < prompts.length; p++) {
                int s = prompts[p].length;
                int[] at = new int[r.nextInt(6)];
                for (int i = 0; i < at.length; i++) {
                    at[i] = switch (r.nextInt(4)) {
                        case 0 -> 0;
                        case 1 -> s - 1;
                        default -> r.nextInt(s);
                    };
                }
                positions[p] = at;
            }
            compare(w, "random positions", prompts, positions, out);

            // keyword-like: ascending positions, the last always among them
            prompts = randomPrompts(r, 40, 2, maxLen);
            positions = new int[prompts.length][];
            for (int p = 0; p < prompts.length; p++) {
                int s = prompts[p].length;
                List<Integer> at = new ArrayList<>();
                for (int t = 0; t < s - 1; t++) {
                    if (r.nextInt(3) == 0) {
                        at.add(t);
                    }
                }
                at.add(s - 1);
                positions[p] = at.stream().mapToInt(Integer::intValue).toArray();
            }
            compare(w, "ascending positions", prompts, positions, out);

            // the vocab task: one-token prompts at position 0
            prompts = randomPrompts(r, 300, 1, 1);
            positions = new int[prompts.length][];
            for (int p = 0; p < prompts.length; p++) {
                positions[p] = new int[] {0};
            }
            compare(w, "one-token prompts", prompts, positions, out);

            // one full-length prompt, every position; and one prompt with a single wanted row
            prompts = randomPrompts(r, 1, maxLen, maxLen);
            positions = new int[][] {new int[maxLen]};
            for (int t = 0; t < maxLen; t++) {
                positions[0][t] = t;
            }
            compare(w, "every position", prompts, positions, out);
            compare(w, "a middle position", prompts, new int[][] {{maxLen / 2}}, out);
            return out.toString();
        }

        private static int[][] randomPrompts(SplittableRandom r, int n, int minLen, int maxLen) {
            int[][] prompts = new int[n][];
            for (int p = 0; p < n; p++) {
                prompts[p] = new int[minLen + r.nextInt(maxLen - minLen + 1)];
                for (int t = 0; t < prompts[p].length; t++) {
                    prompts[p][t] = r.nextInt(RandomCheckpoints.VOCAB);
                }
            }
            return prompts;
        }

        /** Checks the wanted rows against forward on the stacked prompts and on each prompt alone. */
        private static void compare(Gpt2Weights w, String name, int[][] prompts, int[][] positions,
                                    StringBuilder out) {
            int d = w.config().nEmbd();
            float[] got = Block0.residual(w, prompts, positions);
            float[] all = Block0.forward(w, prompts);
            int rows = 0;
            for (int[] at : positions) {
                rows += at.length;
            }
            if (got.length != rows * d) {
                out.append(name).append(": ").append(got.length).append(" floats, want ").append(rows * d).append("; ");
                return;
            }
            int row0 = 0;
            int r = 0;
            for (int p = 0; p < prompts.length; p++) {
                float[] alone = Block0.forward(w, prompts[p]);
                for (int t : positions[p]) {
                    for (int i = 0; i < d; i++) {
                        int g = Float.floatToRawIntBits(got[r * d + i]);
                        if (g != Float.floatToRawIntBits(all[(row0 + t) * d + i])
                                || g != Float.floatToRawIntBits(alone[t * d + i])) {
                            out.append(name).append(": prompt ").append(p).append(" position ").append(t)
                                    .append(" dim ").append(i).append(": ").append(got[r * d + i])
                                    .append(" vs ").append(all[(row0 + t) * d + i]).append(" stacked, ")
                                    .append(alone[t * d + i]).append(" alone; ");
                            return;
                        }
                    }
                    r++;
                }
                row0 += prompts[p].length;
            }
        }
    }
}
