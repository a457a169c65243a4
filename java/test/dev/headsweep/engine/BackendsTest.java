package dev.headsweep.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.headsweep.HeadSweepException;
import dev.headsweep.engine.cpu.CpuBackend;
import dev.headsweep.engine.cuda.CudaSupport;
import org.junit.jupiter.api.Test;

/** Backend selection: cpu, auto and cuda, with and without a GPU; JCuda never crashes the JVM. */
class BackendsTest {
    private static boolean gpuHere() {
        CudaSupport.Opened o = CudaSupport.open();
        if (o.device() != null) {
            o.device().close();
            return true;
        }
        return false;
    }

    @Test
    void cpuIsTheCpuWithItsThreads() {
        Backends.Choice c = Backends.select("cpu", 1);
        assertTrue(c.backend() instanceof CpuBackend);
        assertTrue(c.description().startsWith("device: cpu (1 thread"), c.description());
        assertThrows(HeadSweepException.class, () -> Backends.select("cpu", 0));
    }

    @Test
    void autoFallsBackToTheCpuAndSaysWhyInOneLine() {
        Backends.Choice c = Backends.select("auto", 2);
        assertNotNull(c.backend());
        assertFalse(c.description().contains("\n"));
        if (c.backend() instanceof CpuBackend) {
            assertTrue(c.description().contains("(auto; "), c.description());
        } else {
            assertEquals("cuda", c.backend().name());
            c.backend().close();
        }
    }

    @Test
    void cudaWithoutAGpuIsAOneLineUserError() {
        if (gpuHere()) {
            Backends.Choice c = Backends.select("cuda", null);
            assertEquals("cuda", c.backend().name());
            c.backend().close();
            return;
        }
        HeadSweepException e = assertThrows(HeadSweepException.class, () -> Backends.select("cuda", null));
        assertTrue(e.getMessage().startsWith("no usable CUDA GPU: "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void unknownDeviceIsAUserError() {
        HeadSweepException e = assertThrows(HeadSweepException.class, () -> Backends.select("tpu", null));
        assertTrue(e.getMessage().contains("auto, cpu or cuda"), e.getMessage());
    }

    /**
     * Forcing past the driver check makes JCuda try its native library (which needs libcuda.so.1):
     * where there is no driver that must come back as a reason, not an error or a crash.
     */
    @Test
    void forcedProbeWithoutADriverReturnsAReason() {
        String before = System.getProperty("headsweep.cuda");
        System.setProperty("headsweep.cuda", "force");
        try {
            CudaSupport.Opened o = CudaSupport.open();
            if (o.device() != null) {
                o.device().close();
                return;
            }
            assertNotNull(o.whyNot());
            assertFalse(o.whyNot().contains("\n"));
        } finally {
            if (before == null) {
                System.clearProperty("headsweep.cuda");
            } else {
                System.setProperty("headsweep.cuda", before);
            }
        }
    }

    @Test
    void offTurnsCudaOff() {
        System.setProperty("headsweep.cuda", "off");
        try {
            CudaSupport.Opened o = CudaSupport.open();
            assertNull(o.device());
            assertTrue(o.whyNot().contains("turned off"));
        } finally {
            System.clearProperty("headsweep.cuda");
        }
    }
}
