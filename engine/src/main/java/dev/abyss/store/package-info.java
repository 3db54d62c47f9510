/**
 * Files and formats: the core file (header, per-block CRC32C table, layer-major weights)
 * streamed chunk by chunk or held in memory, the head file, and the reference program's
 * raw headerless layouts. Knows nothing about training.
 */
package dev.abyss.store;
