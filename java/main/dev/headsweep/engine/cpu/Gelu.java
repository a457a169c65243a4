package dev.headsweep.engine.cpu;

/** GPT-2's {@code gelu_new}: {@code 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))}. */
public final class Gelu {
    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);

    private Gelu() {
    }

    public static void inPlace(float[] x) {
        for (int i = 0; i < x.length; i++) {
            float v = x[i];
            x[i] = (float) (0.5 * v * (1.0 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))));
        }
    }
}
