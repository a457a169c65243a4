package dev.headsweep.cli;

/** Report formats. */
enum Format {
    table, csv, json
}
