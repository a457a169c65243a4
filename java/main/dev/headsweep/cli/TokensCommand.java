package dev.headsweep.cli;

import dev.headsweep.HeadSweepException;
import dev.headsweep.engine.HeadId;
import dev.headsweep.report.TokenReport;
import dev.headsweep.score.SweepResult;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "tokens", mixinStandardHelpOptions = true,
        description = {"For each keyword token and each head, whether each relation hit.", ""},
        footer = {"", "Examples:",
            "  headsweep tokens --model gpt2 --task numerals --heads 9.1,7.10,8.11",
            "  headsweep tokens --model models/gpt2 --task numerals --format csv --out tokens.csv"})
final class TokensCommand implements Callable<Integer> {
    @Mixin
    SweepOptions options;

    @Mixin
    CacheOption cache;

    @Option(names = "--heads", split = ",", paramLabel = "L.H",
            description = "Heads to show, comma-separated (e.g. 9.1,7.10). Default: all.")
    List<String> heads;

    @Option(names = "--format", defaultValue = "table", paramLabel = "FMT",
            description = "table or csv. Default: ${DEFAULT-VALUE}.")
    Format format;

    @Option(names = "--out", paramLabel = "FILE", description = "Write to FILE (atomically) instead of stdout.")
    Path out;

    @Override
    public Integer call() {
        if (format == Format.json) {
            throw new HeadSweepException("tokens writes table or csv, not json");
        }
        List<HeadId> ids = heads == null ? null : heads.stream().map(HeadId::parse).toList();
        SweepResult r = options.run(ids, cache.cache(options.quiet), true);
        String text = format == Format.csv ? TokenReport.csv(r, r.heads()) : TokenReport.table(r, r.heads());
        Output.emit(text, out);
        return 0;
    }
}
