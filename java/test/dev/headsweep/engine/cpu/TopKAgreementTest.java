package dev.headsweep.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

class TopKAgreementTest {
    // One row, V = 6. Reference order: 1 (10), 3 (8), 0 (7.99995), 4 (5), 2 (1), 5 (-10).
    private static final float[] ROW = {7.99995f, 10f, 1f, 8f, 5f, -10f};
    private static final double REL = 1e-5; // tol = 1e-5 * 10 = 1e-4

    private static String check(int k, int[] ids, float[] vals, double rel) {
        return TopKAgreement.check(ROW, ROW.length, 0, k, ids, vals, rel);
    }

    @Test
    void exactMatchAgrees() {
        assertNull(check(2, new int[] {1, 3}, new float[] {10f, 8f}, REL));
        assertNull(check(2, new int[] {1, 3}, new float[] {10f, 8f}, 0));
    }

    @Test
    void nearTieAtBoundaryMayDiffer() {
        // 3 (8) and 0 (7.99995) are within tol: either may be the 2nd member.
        assertNull(check(2, new int[] {1, 0}, new float[] {10f, 8.00001f}, REL));
        // ... but not in exact mode.
        assertNotNull(check(2, new int[] {1, 0}, new float[] {10f, 7.99995f}, 0));
    }

    @Test
    void clearMemberMissingIsRejected() {
        // 4 (5) instead of 3 (8): far outside tol.
        assertNotNull(check(2, new int[] {1, 4}, new float[] {10f, 5f}, REL));
        assertNotNull(check(1, new int[] {3}, new float[] {8f}, REL));
    }

    @Test
    void wrongValueDuplicateRangeAndOrderAreRejected() {
        assertNotNull(check(2, new int[] {1, 3}, new float[] {10f, 8.1f}, REL));
        assertNotNull(check(2, new int[] {1, 1}, new float[] {10f, 10f}, REL));
        assertNotNull(check(2, new int[] {1, 6}, new float[] {10f, 8f}, REL));
        assertNotNull(check(2, new int[] {3, 1}, new float[] {8f, 10f}, REL));
    }

    @Test
    void exactModeComparesBitsAndNaN() {
        float[] row = {Float.NaN, 1f, Float.NEGATIVE_INFINITY};
        assertNull(TopKAgreement.check(row, 3, 0, 3, new int[] {1, 2, 0},
                new float[] {1f, Float.NEGATIVE_INFINITY, Float.NaN}, 0));
        assertNotNull(TopKAgreement.check(row, 3, 0, 3, new int[] {1, 0, 2},
                new float[] {1f, Float.NaN, Float.NEGATIVE_INFINITY}, 0));
    }
}
