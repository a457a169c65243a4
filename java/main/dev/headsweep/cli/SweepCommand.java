package dev.headsweep.cli;

import dev.headsweep.HeadSweepException;
import dev.headsweep.report.ScoreReport;
import dev.headsweep.score.SweepResult;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "sweep", mixinStandardHelpOptions = true,
        description = {
            "Scores every attention head: the percent of the task's keywords whose copy (the same token) "
                + "or next token (the successor in the sequence) is among the top-K tokens of the head's "
                + "OV circuit, read at the residual stream after block 0.", ""},
        footer = {"", "Examples:",
            "  headsweep sweep --model gpt2 --task numerals",
            "  headsweep sweep --model gpt2-medium --task months --relations copy,next,prev --format json --out months.json",
            "  headsweep sweep --model models/my-gpt2 --task my-task.json --k 10 --min 0",
            "  headsweep sweep --model gpt2 --task numerals --cache        # A_h kept in ~/.cache/headsweep"})
final class SweepCommand implements Callable<Integer> {
    @Mixin
    SweepOptions options;

    @Mixin
    CacheOption cache;

    @Option(names = "--min", defaultValue = "1", paramLabel = "PCT",
            description = "Table only: hide heads below PCT percent in every relation (CSV and JSON list all). "
                    + "Default: ${DEFAULT-VALUE}.")
    double min;

    @Option(names = "--format", defaultValue = "table", paramLabel = "FMT",
            description = "table, csv or json. Default: ${DEFAULT-VALUE}.")
    Format format;

    @Option(names = "--out", paramLabel = "FILE", description = "Write the report to FILE (atomically) instead of stdout.")
    Path out;

    @Option(names = "--whole-top-k",
            description = "Compute every head's whole top-K at every keyword and look the targets up in it, "
                    + "instead of stopping at each keyword as soon as K tokens beat all its targets. "
                    + "Same scores, more work; for cross-checks and benchmarks.")
    boolean wholeTopK;

    @Override
    public Integer call() {
        if (Double.isNaN(min)) {
            throw new HeadSweepException("--min must be a number of percent");
        }
        SweepResult r = options.run(null, cache.cache(options.quiet), wholeTopK);
        String text = switch (format) {
            case table -> ScoreReport.table(r, min);
            case csv -> ScoreReport.csv(r);
            case json -> ScoreReport.json(r);
        };
        Output.emit(text, out);
        return 0;
    }
}
