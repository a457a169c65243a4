package dev.headsweep.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TopKTest {

    private static final float NaN = Float.NaN;
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;
    private static final float POS_INF = Float.POSITIVE_INFINITY;

    /** Reference: full sort of one row with the tie rule. */
    private static int[] refTop(float[] v, int k) {
        int[] s = ReferenceTopK.sortedRow(v, v.length, 0);
        int[] out = new int[k];
        System.arraycopy(s, 0, out, 0, k);
        return out;
    }

    private static void offerInOrder(TopK top, int row, float[] v) {
        for (int t = 0; t < v.length; t++) {
            top.offer(row, t, v[t]);
        }
    }

    @Test
    void allEqualGivesLowestIds() {
        float[] v = new float[50];
        java.util.Arrays.fill(v, 3.5f);
        for (int k : new int[] {1, 5, 49, 50}) {
            TopK top = new TopK(1, k);
            offerInOrder(top, 0, v);
            for (int q = 0; q < k; q++) {
                assertEquals(q, top.ids()[q]);
                assertEquals(3.5f, top.vals()[q]);
            }
        }
    }

    @Test
    void tiesByLowerIdInAnyOfferOrder() {
        float[] v = {1, 2, 2, 0, 2, 1, 2};
        List<Integer> order = new ArrayList<>();
        for (int t = 0; t < v.length; t++) {
            order.add(t);
        }
        Random rnd = new Random(3);
        for (int rep = 0; rep < 50; rep++) {
            Collections.shuffle(order, rnd);
            TopK top = new TopK(1, 3);
            for (int t : order) {
                top.offer(0, t, v[t]);
            }
            assertArrayEquals(new int[] {1, 2, 4}, top.ids());
        }
    }

    @Test
    void negativeZeroEqualsZero() {
        TopK top = new TopK(1, 2);
        top.offer(0, 5, 0.0f);
        top.offer(0, 2, -0.0f);
        top.offer(0, 9, -1f);
        assertArrayEquals(new int[] {2, 5}, top.ids());
    }

    @Test
    void infinitiesAndNaN() {
        float[] v = {NaN, NEG_INF, 1f, POS_INF, NaN, NEG_INF, -5f};
        assertArrayEquals(new int[] {3, 2, 6, 1, 5, 0, 4}, refTop(v, 7));
        for (int k = 1; k <= v.length; k++) {
            TopK top = new TopK(1, k);
            offerInOrder(top, 0, v);
            assertArrayEquals(refTop(v, k), java.util.Arrays.copyOf(top.ids(), k), "k=" + k);
        }
        // NaN ranks below -inf, also when the NaN comes first.
        TopK top = new TopK(1, 1);
        top.offer(0, 0, NaN);
        assertTrue(Float.isNaN(top.gate(0)));
        top.offer(0, 1, NEG_INF);
        assertEquals(1, top.ids()[0]);
        assertEquals(NEG_INF, top.gate(0));
        assertFalse(top.offer(0, 2, NaN));
        assertFalse(top.offer(0, 3, NEG_INF));
    }

    @Test
    void allNaNKeepsLowestIds() {
        float[] v = {NaN, NaN, NaN, NaN};
        TopK top = new TopK(1, 2);
        offerInOrder(top, 0, v);
        assertArrayEquals(new int[] {0, 1}, top.ids());
    }

    @Test
    void kEqualsVIsAFullSort() {
        Random rnd = new Random(7);
        float[] v = new float[200];
        for (int t = 0; t < v.length; t++) {
            int x = rnd.nextInt(12);
            v[t] = x == 0 ? NaN : x == 1 ? NEG_INF : x == 2 ? POS_INF : rnd.nextInt(5) - 2;
        }
        TopK top = new TopK(1, v.length);
        offerInOrder(top, 0, v);
        assertArrayEquals(refTop(v, v.length), top.ids());
    }

    @Test
    void randomOffersMatchSort() {
        Random rnd = new Random(11);
        for (int rep = 0; rep < 200; rep++) {
            int V = 1 + rnd.nextInt(300);
            int k = 1 + rnd.nextInt(V);
            int rows = 1 + rnd.nextInt(4);
            float[][] v = new float[rows][V];
            for (float[] row : v) {
                for (int t = 0; t < V; t++) {
                    row[t] = rnd.nextInt(40) == 0 ? NaN : rnd.nextInt(20) - 10; // many ties
                }
            }
            TopK top = new TopK(rows, k);
            boolean ordered = rnd.nextBoolean();
            for (int i = 0; i < rows; i++) {
                if (ordered) {
                    top.offerAll(i, 0, v[i], 0, V);
                } else {
                    List<Integer> order = new ArrayList<>();
                    for (int t = 0; t < V; t++) {
                        order.add(t);
                    }
                    Collections.shuffle(order, rnd);
                    for (int t : order) {
                        top.offer(i, t, v[i][t]);
                    }
                }
            }
            for (int i = 0; i < rows; i++) {
                int[] want = refTop(v[i], k);
                for (int q = 0; q < k; q++) {
                    assertEquals(want[q], top.ids()[i * k + q], "rep " + rep + " row " + i + " rank " + q);
                    assertEquals(Float.floatToIntBits(v[i][want[q]]),
                            Float.floatToIntBits(top.vals()[i * k + q]));
                }
            }
        }
    }

    @Test
    void gateIsOpenUntilFullThenKth() {
        TopK top = new TopK(2, 2, new int[4], new float[4]);
        assertTrue(Float.isNaN(top.gate(0)));
        top.offer(0, 0, 1f);
        assertTrue(Float.isNaN(top.gate(0)));
        top.offer(0, 1, 3f);
        assertEquals(1f, top.gate(0));
        top.offer(0, 2, 2f);
        assertEquals(2f, top.gate(0));
        assertEquals(2, top.count(0));
        assertEquals(0, top.count(1));
        assertEquals(Float.POSITIVE_INFINITY, top.gates()[2]);
        assertEquals(0, top.gates().length % TopK.GATE_PAD);
    }

    @Test
    void unfilledSlotsAndReset() {
        int[] ids = new int[6];
        float[] vals = new float[6];
        TopK top = new TopK(2, 3, ids, vals);
        top.offer(1, 7, 2f);
        assertArrayEquals(new int[] {-1, -1, -1, 7, -1, -1}, ids);
        assertTrue(Float.isNaN(vals[4]));
        top.reset(1, 2, ids, vals);
        assertEquals(0, top.count(0));
        assertEquals(-1, ids[0]);
        assertThrows(IllegalArgumentException.class, () -> new TopK(3, 3, ids, vals));
        assertThrows(IllegalArgumentException.class, () -> new TopK(1, 0));
    }
}
