package dev.headsweep.engine.cpu;

import dev.headsweep.engine.TargetsInTopK;
import java.util.Arrays;

/**
 * Whether each row's targets are among its top-k, one head at a time, without the whole top-k of
 * every row ({@link dev.headsweep.engine.Backend#ovTargetsInTopK}).
 *
 * <p>A score only asks whether a target token is among a row's top-k. The target is out as soon as
 * k other tokens are known to have larger logits than it, and for most (head, keyword) rows that is
 * clear after a small part of the vocabulary: a row whose best target ranks R-th meets k better
 * tokens in about a k/R share of it. So each head runs in phases:
 * <ol>
 *   <li>the exact fp32 logits of each row's targets (the columns of A at the targets, from stage 1's
 *       chains or the cache, then stage 2's chain: beta, then fma over j in order, as every kernel
 *       computes them; {@code tmax} is a row's largest, NaN when one is NaN);</li>
 *   <li>screening: the ordinary fused top-k over a few whole tiles of the vocabulary spread over
 *       it (a sub-vocabulary of 2, then of 16 tiles of 512 tokens by default), for the rows still
 *       in; a row whose k-th value there is above {@code tmax} (strictly; so never with a NaN) has
 *       k tokens that beat every one of its targets, each target ranks k-th or lower in the whole
 *       vocabulary, and the row is done: no hit;</li>
 *   <li>the rows left: the ordinary top-k over the whole vocabulary, and the targets looked up in
 *       it.</li>
 * </ol>
 * The answer is the whole top-k's, exactly: a screening top-k's k-th <em>value</em> is exact in any
 * token order (only which of equal values holds the last place could depend on it), and it is a
 * lower bound of the whole vocabulary's k-th value. Rows without a target inside the vocabulary
 * never hit and cost nothing. The saving: on the planted GPT-2-small checkpoint most rows leave
 * after the first screen (see bench/README.md for the measured share).
 *
 * <p>Immutable after construction and shared by all threads; {@link #head} is thread-safe given
 * one kernel per thread.
 */
final class TargetRankCheck {
    /** Tokens per screening tile. */
    static final int TILE = 512;
    /** Tiles of each screening phase. */
    static final int[] PHASE_TILES = {2, 16};

    private final int vocab;
    private final int k;
    private final float[] beta;
    private final int[][] targets;
    /** The distinct target ids inside the vocabulary, ascending. */
    private final int[] distinct;
    /** Per row and target, its index in {@link #distinct}, or -1 outside the vocabulary. */
    private final int[][] slot;
    /** The targets' rows of E (for stage 1), or null when A comes from a source. */
    private final FactoredTopK.Prepared targetPrep;
    /** The whole vocabulary's preparation. */
    private final FactoredTopK.Prepared fullPrep;
    /** Per screening phase: the original ids of its tokens, in order, and its preparation. */
    private final int[][] phaseTokens;
    private final FactoredTopK.Prepared[] phasePrep;

    /**
     * @param full        the whole vocabulary's preparation (with E when heads come with M, else bias only)
     * @param k           the top-k
     * @param targets     per row the target ids
     * @param withE       whether heads come with M (A from stage 1), so that the sub-vocabularies need E
     * @param tile        tokens per screening tile
     * @param phaseTiles  tiles per screening phase (phases with half the vocabulary or more, or fewer
     *                    than k tokens, are left out)
     */
    TargetRankCheck(FactoredTopK.Prepared full, int k, int[][] targets, boolean withE, int tile, int... phaseTiles) {
        this.vocab = full.V;
        this.fullPrep = full;
        this.k = k;
        this.beta = full.beta;
        this.targets = targets;
        this.distinct = Arrays.stream(targets).flatMapToInt(Arrays::stream)
                .filter(t -> t >= 0 && t < vocab).distinct().sorted().toArray();
        this.slot = new int[targets.length][];
        for (int i = 0; i < targets.length; i++) {
            slot[i] = new int[targets[i].length];
            for (int j = 0; j < targets[i].length; j++) {
                int t = targets[i][j];
                slot[i][j] = t >= 0 && t < vocab ? Arrays.binarySearch(distinct, t) : -1;
            }
        }
        // the targets' own copy of E, unless they are much of the vocabulary (the vocab task: all of it)
        this.targetPrep = !withE || distinct.length == 0 ? null
                : distinct.length * 4L >= vocab ? full : subVocabulary(full, distinct, true);
        int tiles = (vocab + tile - 1) / tile;
        this.phaseTokens = Arrays.stream(phaseTiles)
                .filter(m -> (long) m * tile * 2 <= vocab && m >= 1)
                .mapToObj(m -> spreadTiles(vocab, tile, tiles, m))
                .filter(tokens -> tokens.length >= k)
                .toArray(int[][]::new);
        this.phasePrep = new FactoredTopK.Prepared[phaseTokens.length];
        for (int p = 0; p < phaseTokens.length; p++) {
            phasePrep[p] = subVocabulary(full, phaseTokens[p], withE);
        }
    }

    /** The tokens of m whole tiles spread evenly over the vocabulary. */
    private static int[] spreadTiles(int vocab, int tile, int tiles, int m) {
        int[] out = new int[m * tile];
        int len = 0;
        for (int q = 0; q < m; q++) {
            int t0 = (int) (((long) q * 2 + 1) * tiles / (2L * m)) * tile;
            for (int t = t0; t < Math.min(vocab, t0 + tile); t++) {
                out[len++] = t;
            }
        }
        return Arrays.copyOf(out, len);
    }

    /** The preparation of the given tokens alone (their E rows when withE, their beta). */
    private static FactoredTopK.Prepared subVocabulary(FactoredTopK.Prepared full, int[] tokens, boolean withE) {
        int d = full.d;
        float[] b = new float[tokens.length];
        for (int q = 0; q < tokens.length; q++) {
            b[q] = full.beta[tokens[q]];
        }
        if (!withE) {
            return FactoredTopK.prepareBias(tokens.length, d, b);
        }
        float[] e = new float[Math.multiplyExact(tokens.length, d)];
        for (int q = 0; q < tokens.length; q++) {
            System.arraycopy(full.E, tokens[q] * d, e, q * d, d);
        }
        return FactoredTopK.prepare(e, tokens.length, d, b);
    }

    /** Screening phases this test runs (those small enough for the vocabulary and large enough for k). */
    int phases() {
        return phaseTokens.length;
    }

    /**
     * One head: {@code hits[i][j]} for {@code targets[i][j]}. A comes from {@code src} when it is not
     * null, else from {@code M} by stage 1 (then the preparation given to the constructor must hold E).
     *
     * @param onePass null, or a one-pass kernel (exact stage 1) for the runs from {@code M} where the
     *                two-pass {@code kernel} costs more (many rows over few tokens); same answers
     * @param stats when not null, {@code 2 · (phases() + 2)} counters to add to: [0] the rows with a
     *              target, [1 + p] the rows that went into screening phase p, [1 + phases()] those
     *              of the whole top-k; then, from {@code phases() + 2} on, the nanoseconds of the same
     *              three kinds of steps (the targets' logits; each screen; the whole top-k)
     */
    boolean[][] head(FactoredTopK kernel, FactoredTopK onePass, float[] M, FactoredTopK.ATileSource src,
            int r, float[] U, int n, long[] stats) {
        boolean[][] hits = new boolean[n][];
        for (int i = 0; i < n; i++) {
            hits[i] = new boolean[targets[i].length];
        }
        if (distinct.length == 0 || n == 0) {
            return hits;
        }
        final int nano = phaseTokens.length + 2;
        long clock = System.nanoTime();
        float[] cols = targetColumns(kernel, M, src, r);
        // The rows with a target, and the largest exact logit of their targets.
        int[] active = new int[n];
        float[] tmax = new float[n];
        int na = 0;
        for (int i = 0; i < n; i++) {
            float best = Float.NEGATIVE_INFINITY;
            boolean any = false;
            for (int j = 0; j < slot[i].length; j++) {
                int s = slot[i][j];
                if (s < 0) {
                    continue;
                }
                float x = exactLogit(U, i * r, cols, s * r, r, beta[distinct[s]]);
                best = x != x || best != best ? Float.NaN : Math.max(best, x);
                any = true;
            }
            if (any) {
                tmax[na] = best;
                active[na++] = i;
            }
        }
        if (stats != null) {
            stats[0] += na;
            clock = tick(stats, nano, clock);
        }
        float[] ua = new float[na * r];
        int[] ids = new int[na * k];
        float[] vals = new float[na * k];
        for (int p = 0; p < phaseTokens.length && na > 0; p++) {
            if (stats != null) {
                stats[1 + p] += na;
            }
            gather(U, r, active, na, ua);
            if (src != null) {
                kernel.run(phasePrep[p], new SubSource(src, phaseTokens[p], r), r, ua, na, k, ids, vals);
            } else {
                pick(kernel, onePass, phaseTokens[p].length, na).run(phasePrep[p], M, r, ua, na, k, ids, vals);
            }
            int left = 0;
            for (int a = 0; a < na; a++) {
                boolean out = ids[a * k + k - 1] >= 0 && vals[a * k + k - 1] > tmax[a];
                if (!out) {
                    active[left] = active[a];
                    tmax[left] = tmax[a];
                    left++;
                }
            }
            na = left;
            if (stats != null) {
                clock = tick(stats, nano + 1 + p, clock);
            }
        }
        if (stats != null) {
            stats[1 + phaseTokens.length] += na;
        }
        if (na == 0) {
            return hits;
        }
        gather(U, r, active, na, ua);
        if (src != null) {
            kernel.run(fullPrep, src, r, ua, na, k, ids, vals);
        } else {
            pick(kernel, onePass, vocab, na).run(fullPrep, M, r, ua, na, k, ids, vals);
        }
        for (int a = 0; a < na; a++) {
            int i = active[a];
            for (int j = 0; j < targets[i].length; j++) {
                hits[i][j] = slot[i][j] >= 0 && TargetsInTopK.among(targets[i][j], ids, a * k, k);
            }
        }
        if (stats != null) {
            tick(stats, nano + 1 + phaseTokens.length, clock);
        }
        return hits;
    }

    private static long tick(long[] stats, int at, long since) {
        long now = System.nanoTime();
        stats[at] += now - since;
        return now;
    }

    /**
     * The kernel for a run of stage 1 and the top-k over {@code tokens} tokens and {@code rows} rows:
     * {@code onePass} (when given) where the two-pass kernel's set-up would cost more than its bf16
     * stage 1 saves. Measured on the development machine (r 64, d 768): the two-pass bound's set-up
     * takes about 1 ms per head plus 2.5 µs per row, its stage 1 about 0.26 µs per token against
     * the exact stage 1's 0.57 µs.
     */
    private static FactoredTopK pick(FactoredTopK kernel, FactoredTopK onePass, int tokens, int rows) {
        return onePass != null && 0.31 * tokens < 1000 + 2.5 * rows ? onePass : kernel;
    }

    /** The columns of A at the distinct targets, token-major ({@code A[j][distinct[s]]} at {@code s·r + j}). */
    private float[] targetColumns(FactoredTopK kernel, float[] M, FactoredTopK.ATileSource src, int r) {
        if (src == null && targetPrep != fullPrep) {
            return kernel.computeA(targetPrep, M, r);
        }
        if (src == null) { // the whole A, tile by tile, keeping the targets' columns
            float[] cols = new float[distinct.length * r];
            kernel.computeA(fullPrep, M, r, (t0, len, tile, ld) -> {
                int s = Arrays.binarySearch(distinct, t0);
                for (s = s < 0 ? -s - 1 : s; s < distinct.length && distinct[s] < t0 + len; s++) {
                    System.arraycopy(tile, (distinct[s] - t0) * ld, cols, s * r, r);
                }
            });
            return cols;
        }
        float[] cols = new float[distinct.length * r];
        float[] one = new float[r];
        for (int s = 0; s < distinct.length; s++) {
            src.read(distinct[s], 1, one, r);
            System.arraycopy(one, 0, cols, s * r, r);
        }
        return cols;
    }

    /** Stage 2's exact chain, as every kernel computes it: beta, then fma over j in order. */
    private static float exactLogit(float[] U, int uo, float[] cols, int co, int r, float b) {
        float x = b;
        for (int j = 0; j < r; j++) {
            x = Math.fma(cols[co + j], U[uo + j], x);
        }
        return x;
    }

    private static void gather(float[] U, int r, int[] rows, int count, float[] out) {
        for (int a = 0; a < count; a++) {
            System.arraycopy(U, rows[a] * r, out, a * r, r);
        }
    }

    /** A head's A restricted to a sub-vocabulary: its token q is the source's token {@code tokens[q]}. */
    private static final class SubSource implements FactoredTopK.ATileSource {
        private final FactoredTopK.ATileSource src;
        private final int[] tokens;
        private final int r;
        private float[] scratch = new float[0];

        SubSource(FactoredTopK.ATileSource src, int[] tokens, int r) {
            this.src = src;
            this.tokens = tokens;
            this.r = r;
        }

        @Override
        public void read(int t0, int len, float[] dst, int ld) {
            int q = 0;
            while (q < len) {
                int first = tokens[t0 + q];
                int run = 1;
                while (q + run < len && tokens[t0 + q + run] == first + run) {
                    run++;
                }
                if (q == 0 && run == len) {
                    src.read(first, len, dst, ld);
                    return;
                }
                if (scratch.length < run * ld) {
                    scratch = new float[run * ld];
                }
                src.read(first, run, scratch, ld);
                for (int e = 0; e < run; e++) {
                    System.arraycopy(scratch, e * ld, dst, (q + e) * ld, r);
                }
                q += run;
            }
        }
    }
}
