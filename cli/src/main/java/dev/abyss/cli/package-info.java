/**
 * The command line: one picocli class per command, each parsing flags, building a spec and
 * calling the engine. Errors become exit codes in one place ({@link dev.abyss.cli.Main}).
 */
package dev.abyss.cli;
