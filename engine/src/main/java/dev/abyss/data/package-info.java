/** Data: the IDX reader, MNIST location/fetch with checksums, and the seeded batch order. */
package dev.abyss.data;
