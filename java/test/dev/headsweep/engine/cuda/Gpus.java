package dev.headsweep.engine.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * GPUs for tests: the real one (shared by all tests of a run, opened once, never closed) or a
 * skip that says why there is none and what the test would have checked; and the plain-Java
 * simulation ({@link SimDevice}) that runs the CUDA backend's host logic everywhere.
 */
public final class Gpus {
    private static CudaSupport.Opened opened;
    private static CudaBackend shared;

    private Gpus() {
    }

    /** The CUDA backend on GPU 0, or a JUnit skip naming the reason and {@code wouldCheck}. */
    public static synchronized CudaBackend realOrSkip(String wouldCheck) {
        if (opened == null) {
            opened = CudaSupport.open();
            if (opened.device() != null) {
                shared = new CudaBackend(opened.device());
            }
        }
        assumeTrue(shared != null, () -> "skipped, no GPU (" + opened.whyNot() + "); on a GPU this checks "
                + wouldCheck);
        return shared;
    }

    /** A CUDA backend on a fresh simulated device. */
    public static CudaBackend simulated() {
        return new CudaBackend(new SimDevice());
    }

    /** A CUDA backend on a simulated device with {@code limitBytes} of memory and {@code sms} SMs. */
    public static CudaBackend simulated(long limitBytes, int sms) {
        return new CudaBackend(new SimDevice(limitBytes, sms));
    }
}
