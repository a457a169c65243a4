package dev.headsweep.cli;

import dev.headsweep.HeadSweepException;
import dev.headsweep.checkpoint.Dtype;
import dev.headsweep.engine.HeadId;
import dev.headsweep.plant.PlantedCheckpoint;
import dev.headsweep.report.ScoreReport;
import dev.headsweep.score.SweepResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Plants a GPT-2-small-shaped checkpoint (12 layers, 12 heads, d 768, vocabulary 50257) "
                + "with known copy, next and previous heads, sweeps it on the numerals task, and checks that "
                + "the planted heads are the ones found. Needs no download; writes about 0.65 GB (xl: 6.2 GB) "
                + "to a temporary folder, removed afterwards unless --keep.", ""},
        footer = {"", "Exit status: 0 when every planted head is found (≥ 95% in its relation) and no other head "
                + "reaches 5% in any relation; 1 otherwise.", "",
            "Examples:", "  headsweep demo", "  headsweep demo --dir /tmp/planted --keep",
            "  JAVA_OPTS=-Xmx12g headsweep demo --size xl --dir /tmp/xl --keep   # planting xl holds 6.2 GB"})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--dir", paramLabel = "DIR", description = "Where to write the checkpoint. Default: a new temporary folder.")
    Path dir;

    @Option(names = "--keep", description = "Keep the checkpoint (to try the other commands on it).")
    boolean keep;

    @Option(names = "--plant-only", description = "Only write the checkpoint, do not sweep it (implies --keep).")
    boolean plantOnly;

    @Option(names = "--size", defaultValue = "small", paramLabel = "SIZE",
            description = "The GPT-2 shape to plant: small, medium, large or xl. Default: ${DEFAULT-VALUE}.")
    String size;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the random weights. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = {"-q", "--quiet"}, description = "No progress bar and no timing line on stderr.")
    boolean quiet;

    @Override
    public Integer call() throws IOException {
        var config = shape(size);
        keep |= plantOnly;
        Path target = dir != null ? dir : Files.createTempDirectory("headsweep-demo-");
        boolean created = dir == null || !Files.exists(dir);
        if (dir != null && Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new HeadSweepException(dir + ": not a folder");
        }
        Files.createDirectories(target);
        Thread cleanUp = new Thread(() -> deleteTree(target), "headsweep-demo-clean-up");
        boolean removeAfter = !keep && created;
        if (removeAfter) {
            Runtime.getRuntime().addShutdownHook(cleanUp);   // Ctrl-C does not leave 0.65 GB behind
        }
        try {
            PlantedCheckpoint planted = PlantedCheckpoint.of(config, PlantedCheckpoint.demoHeads(), seed);
            if (!quiet) {
                System.err.println("planting a GPT-2-" + size + "-shaped checkpoint in " + target + " ...");
            }
            long t0 = System.nanoTime();
            planted.write(target, Dtype.F32, "");
            if (!quiet) {
                System.err.printf(Locale.ROOT, "planted in %.1f s%n", (System.nanoTime() - t0) / 1e9);
            }
            if (plantOnly) {
                return 0;
            }
            SweepOptions o = new SweepOptions();
            o.model = target.toString();
            o.task = "numerals";
            o.k = 5;
            o.relations = List.of("copy", "next", "prev");
            o.quiet = quiet;
            SweepResult r = o.run(null);
            System.out.print(ScoreReport.table(r, 5));
            return verdict(r, planted.planted()) ? 0 : 1;
        } finally {
            if (removeAfter) {
                Runtime.getRuntime().removeShutdownHook(cleanUp);
                deleteTree(target);
            } else if (keep) {
                System.err.println("checkpoint kept in " + target);
            }
        }
    }

    private static dev.headsweep.checkpoint.GptConfig shape(String size) {
        try {
            return PlantedCheckpoint.gpt2Shape(size);
        } catch (IllegalArgumentException e) {
            throw new HeadSweepException("--size: " + e.getMessage());
        }
    }

    /** Prints, for each planted head, its score in its relation, and the best other head per relation. */
    private static boolean verdict(SweepResult r, Map<HeadId, PlantedCheckpoint.Kind> planted) {
        boolean ok = true;
        System.out.println();
        for (var e : planted.entrySet()) {
            String rel = relation(e.getValue());
            double s = r.score(e.getKey(), rel);
            boolean found = s >= 95.0;
            ok &= found;
            System.out.printf(Locale.ROOT, "planted %-5s %-4s head: %s score %6.2f%%  %s%n", e.getKey(),
                    rel, rel, s, found ? "found" : "NOT FOUND");
        }
        for (String rel : r.relations()) {
            HeadId best = null;
            for (HeadId h : r.heads()) {
                if (!planted.containsKey(h) && (best == null || r.score(h, rel) > r.score(best, rel))) {
                    best = h;
                }
            }
            double s = r.score(best, rel);
            ok &= s < 5.0;
            System.out.printf(Locale.ROOT, "best unplanted head for %-4s: %-5s %6.2f%%  %s%n", rel, best, s,
                    s < 5.0 ? "(below 5%, as expected)" : "UNEXPECTED");
        }
        System.out.println(ok ? "demo: the planted heads are the ones found." : "demo: FAILED");
        return ok;
    }

    private static String relation(PlantedCheckpoint.Kind kind) {
        return switch (kind) {
            case COPY -> "copy";
            case NEXT -> "next";
            case PREV -> "prev";
        };
    }

    private static void deleteTree(Path p) {
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(q -> {
                try {
                    Files.deleteIfExists(q);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            System.err.println("headsweep: could not remove " + p + ": " + e.getMessage());
        }
    }
}
